"""What the list pages share (issue 29): the tiers apart, one section per tier with its own
ranks, count, filters and pages, and the Chinese names of every code they show.

A province's page without a tier shows both sections (the first page of each, with the same
filters); a section's form and page links go to that tier's own page (`?tier=…`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from models.labels import (
    BOOLEAN_LABELS,
    CRITERION_LABELS,
    GROUND_LABELS,
    LAST_OUTCOME_LABELS,
    MODE_LABELS,
    MODEL_VERSION_LABELS,
    OUTCOME_LABELS,
    TASK_LABELS,
    TIER_ANNEXES,
    TIER_LABELS,
    TITLE_LABELS,
    VERDICT_LABELS,
    criterion_names,
    label,
)
from service.api_models import ListParams

# What the templates name codes by (Jinja globals; every page reads the one table).
TEMPLATE_LABELS = {
    "tier_labels": TIER_LABELS,
    "tier_annexes": TIER_ANNEXES,
    "title_labels": TITLE_LABELS,
    "outcome_labels": OUTCOME_LABELS,
    "verdict_labels": VERDICT_LABELS,
    "mode_labels": MODE_LABELS,
    "criterion_labels": CRITERION_LABELS,
    "ground_labels": GROUND_LABELS,
    "last_outcome_labels": LAST_OUTCOME_LABELS,
    "boolean_labels": BOOLEAN_LABELS,
    "task_labels": TASK_LABELS,
    "model_version_labels": MODEL_VERSION_LABELS,
}


@dataclass(frozen=True)
class TierSection:
    """One tier of a list page: its rows (an InvitationPage or ReapplyPage), page count, and
    the URL of each of its pages."""

    tier: str
    page: Any
    pages: int
    url: Callable[[int], str]

    @property
    def heading(self) -> str:
        return f"{TIER_LABELS[self.tier]}（{TIER_ANNEXES[self.tier]}）"


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def tier_sections(
    request: Request, params: ListParams, load: Callable[[ListParams], Any]
) -> list[TierSection]:
    """The sections of a list page: the asked tier's alone, or every tier's first page."""
    tiers = [params.tier] if params.tier else list(TIER_LABELS)
    sections = []
    for tier in tiers:
        own = params.model_copy(update={"tier": tier, "page": params.page if params.tier else 1})
        page = load(own)
        sections.append(
            TierSection(tier, page, page_count(page.total, page.page_size), _url(request, tier))
        )
    return sections


def _url(request: Request, tier: str) -> Callable[[int], str]:
    def url(number: int) -> str:
        target = request.url.include_query_params(tier=tier, page=number)
        return f"{target.path}?{target.query}"

    return url


def labelled_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of a run-wide list (cultivation, renewals) with the names of its codes beside
    them: `tier_label`, `outcome_label`, `failing_criteria_labels`."""
    named = dict(row)
    if "tier" in row:
        named["tier_label"] = label(TIER_LABELS, row["tier"])
    if "outcome" in row:
        named["outcome_label"] = label(OUTCOME_LABELS, row["outcome"])
    if "failing_criteria" in row:
        named["failing_criteria_labels"] = criterion_names(
            str(row["failing_criteria"] or "").split(",")
        )
    return named
