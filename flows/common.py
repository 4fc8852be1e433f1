"""What both flows (discovery, training) stand on: the flows' configuration, loaded once, with
the I/O tasks' retries, and the tiers' evaluation-score lines the rule baseline orders by.
"""

from __future__ import annotations

from flows.config import load_flows_config

FLOWS_CONFIG = load_flows_config()
IO_RETRY_COUNT = FLOWS_CONFIG.retries.io_task_retries
IO_RETRY_DELAY = FLOWS_CONFIG.retries.retry_delay_seconds


def score_thresholds() -> dict[str, float]:
    """The tiers' evaluation-score lines (附件1（六）, 附件2（七）) from the criteria config."""
    from models.criteria_config import load_criteria_config

    criteria = load_criteria_config()
    return {
        "specialized": float(criteria.a1.evaluation_score_min),
        "little_giant": float(criteria.a2.evaluation_score_min),
    }
