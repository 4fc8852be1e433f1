"""Criteria engine: Article 11, Article 20, Annex 1 and Annex 2 as exact, explainable rules.

`evaluate_criteria` gives every firm × tier × criterion verdict with evidence
(../shared/contracts/outputs.md, `zjtx criteria`); `cultivation_list` the near misses.
"""

from models.criteria.engine import (
    CRITERIA,
    MODES,
    OUTPUT_COLUMNS,
    SELF_DECLARED,
    TIER_CRITERIA,
    TIERS,
    VERDICTS,
    cultivation_list,
    evaluate_criteria,
)

__all__ = [
    "CRITERIA",
    "MODES",
    "OUTPUT_COLUMNS",
    "SELF_DECLARED",
    "TIERS",
    "TIER_CRITERIA",
    "VERDICTS",
    "cultivation_list",
    "evaluate_criteria",
]
