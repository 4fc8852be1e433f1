"""Measuring an ordering (pure functions): the contract's metrics, discovery metrics against the
generator's truth with bootstrap intervals over firms, and the paired-bootstrap champion gate.

Discovery metrics (names in the outputs contract), per province × tier top k, pooled and per tier:
- `val_discovery_precision_at_k`: share of the invited that would qualify on review;
- `val_novel_precision_at_k`: share that would qualify and had not applied by the date;
- `val_discovery_recall_at_k`: share of the novel qualifiers found in the top k, with
  `val_discovery_recall_ceiling` (the most any ordering could find with k per group);
- `val_expected_added_at_k`: Σ would_qualify × (1 − p_apply) over the top k;
- `val_qualify_brier_unapplied` / `val_qualify_log_loss_unapplied`: p_qualify against
  would_qualify among candidates that had not applied.
Intervals: a bootstrap over firms (every row of a drawn firm comes along; a firm drawn twice
counts twice), the top k recomputed in each draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models.ranking.dataset import GROUP_COLUMNS, META_COLUMNS, TIERS
from models.ranking_config import ModelConfig

METRIC_NAMES = (
    "val_precision_at_k",
    "val_recall_at_k",
    "val_average_precision",
    "val_roc_auc",
    "val_brier",
)
DISCOVERY_METRICS = (
    "val_discovery_precision_at_k",
    "val_novel_precision_at_k",
    "val_discovery_recall_at_k",
    "val_discovery_recall_ceiling",
    "val_expected_added_at_k",
)
GATE_METRIC = "val_novel_precision_at_k"
TRUTH_COLUMNS = ("would_qualify", "applied_by_date", "p_apply_true")


def rank_within_groups(scored: pd.DataFrame, groups: Sequence[str] = GROUP_COLUMNS) -> pd.Series:
    """1-based rank by score within each group (ties broken by credit code, deterministic)."""
    ordered = scored.sort_values(
        [*groups, "score", "credit_code"],
        ascending=[True] * len(groups) + [False, True],
        kind="stable",
    )
    ranks = ordered.groupby(list(groups), observed=True).cumcount() + 1
    return ranks.reindex(scored.index)


def precision_recall_at_k(
    scored: pd.DataFrame, k: int, groups: Sequence[str] = GROUP_COLUMNS, label: str = "label"
) -> tuple[float, float]:
    """Pooled over groups (province × tier × date): hits in each group's top k over the number
    of invitations sent (min(k, group size)), and over all positives."""
    if scored.empty:
        return float("nan"), float("nan")
    top = rank_within_groups(scored, groups) <= k
    hits = float(scored.loc[top, label].sum())
    invited = float(top.sum())
    positives = float(scored[label].sum())
    precision = hits / invited if invited else float("nan")
    recall = hits / positives if positives else float("nan")
    return precision, recall


def _metrics(scored: pd.DataFrame, k: int) -> dict[str, float]:
    precision, recall = precision_recall_at_k(scored, k)
    labels, scores = scored["label"].to_numpy(), scored["score"].to_numpy()
    two_classes = len(np.unique(labels)) == 2
    return {
        "val_precision_at_k": precision,
        "val_recall_at_k": recall,
        "val_average_precision": (
            float(average_precision_score(labels, scores)) if two_classes else float("nan")
        ),
        "val_roc_auc": float(roc_auc_score(labels, scores)) if two_classes else float("nan"),
        "val_brier": float(brier_score_loss(labels, scores)) if len(labels) else float("nan"),
    }


@dataclass(frozen=True)
class Evaluation:
    """Validation metrics of one model, per province, and its calibration curve."""

    metrics: dict[str, float]
    per_province: pd.DataFrame
    calibration: pd.DataFrame
    scored: pd.DataFrame = field(repr=False)


def scored_frame(ranker: Any, valid: pd.DataFrame) -> pd.DataFrame:
    """Validation candidates with the ranker's columns; `score` = priority (the list order)."""
    table = ranker.score_table(valid)
    meta = valid[[c for c in META_COLUMNS if c in valid]]
    return pd.concat([meta, table], axis=1).assign(score=table["priority"].to_numpy())


def evaluate(
    ranker: Any,
    valid: pd.DataFrame,
    config: ModelConfig,
    truth: pd.DataFrame | None = None,
) -> Evaluation:
    """The contract metrics (old names: against the observed label, title within 12 months),
    and with the generator's truth the discovery metrics, per tier and with intervals."""
    k = config.evaluation.k
    scored = scored_frame(ranker, valid)
    metrics = _metrics(scored, k)
    if truth is not None:
        scored = with_truth(scored, truth)
        metrics |= discovery_metrics(scored, config)
    rows = []
    for province, part in scored.groupby("province", sort=True):
        rows.append(
            {"province": province, "candidates": len(part), "positives": int(part["label"].sum())}
            | _metrics(part, k)
        )
    per_province = pd.DataFrame(rows)
    calibration = pd.DataFrame(columns=["mean_predicted", "fraction_positive"])
    if len(np.unique(scored["label"])) == 2:
        fraction, predicted = calibration_curve(
            scored["label"],
            scored["score"].clip(0, 1),
            n_bins=config.evaluation.calibration_bins,
            strategy="quantile",
        )
        calibration = pd.DataFrame({"mean_predicted": predicted, "fraction_positive": fraction})
    return Evaluation(metrics, per_province, calibration, scored)


def with_truth(scored: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Attach the generator's truth (as_of, credit_code, tier, would_qualify, p_apply,
    applied_by_date); a candidate without a truth row would not qualify. Evaluation only."""
    keys = ["as_of", "credit_code", "tier"]
    table = truth[[*keys, "would_qualify", "applied_by_date", "p_apply"]].rename(
        columns={"p_apply": "p_apply_true"}
    )
    table = table.assign(as_of=pd.to_datetime(table["as_of"]))
    merged = scored.drop(columns=list(TRUTH_COLUMNS), errors="ignore").merge(
        table, on=keys, how="left"
    )
    merged["would_qualify"] = merged["would_qualify"].fillna(False).astype(bool).astype("int64")
    merged["applied_by_date"] = merged["applied_by_date"].fillna(False).astype(bool)
    merged["p_apply_true"] = merged["p_apply_true"].fillna(0.0).astype("float64")
    merged["novel"] = (merged["would_qualify"].astype(bool) & ~merged["applied_by_date"]).astype(
        "int64"
    )
    merged.index = scored.index
    return merged


# --- bootstrap over firms -----------------------------------------------------------------


def _order(scored: pd.DataFrame, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row order by group then score (ties by code), and each sorted row's group id."""
    ordered = scored.sort_values(
        [*groups, "score", "credit_code"],
        ascending=[True] * len(groups) + [False, True],
        kind="stable",
    )
    group_id = ordered.groupby(list(groups), observed=True, sort=False).ngroup().to_numpy()
    return scored.index.get_indexer(ordered.index), group_id


def firm_draws(codes: pd.Series, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot + 1) × rows: how often each row's firm is drawn; row 0 is the sample itself."""
    firm_ids, uniques = pd.factorize(codes)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(uniques), np.full(len(uniques), 1 / len(uniques)), n_boot)
    counts = np.vstack([np.ones(len(uniques), dtype="int64"), counts])
    return counts[:, firm_ids]


def _top_k_counts(
    weights: np.ndarray, order: np.ndarray, group_id: np.ndarray, k: int
) -> np.ndarray:
    """Per draw and row, how many copies of the row are among its group's top k."""
    w = weights[:, order]
    cumulative = np.cumsum(w, axis=1)
    starts = np.r_[0, np.flatnonzero(np.diff(group_id)) + 1]
    before = np.where(starts > 0, cumulative[:, np.maximum(starts - 1, 0)], 0)
    sizes = np.diff(np.r_[starts, len(group_id)])
    offsets = np.repeat(before, sizes, axis=1)
    preceding = cumulative - w - offsets
    taken = np.clip(k - preceding, 0, None)
    inside = np.minimum(w, taken)
    result = np.zeros_like(inside)
    result[:, order] = inside
    return result


def _at_k(
    scored: pd.DataFrame, weights: np.ndarray, k: int, groups: Sequence[str]
) -> dict[str, np.ndarray]:
    """Discovery metrics per draw (arrays of length n_boot + 1)."""
    order, group_id = _order(scored, groups)
    top = _top_k_counts(weights, order, group_id, k)
    invited = top.sum(axis=1).astype("float64")
    wq = scored["would_qualify"].to_numpy(dtype="float64")
    novel = scored["novel"].to_numpy(dtype="float64")
    added = wq * (1 - scored["p_apply_true"].to_numpy(dtype="float64"))
    novel_total = (weights * novel).sum(axis=1)
    # Ceiling: per group, min(k, novel qualifiers drawn), over all novel qualifiers drawn.
    ceiling_hits = np.zeros(len(weights))
    for gid in np.unique(group_id):
        rows = order[group_id == gid]
        ceiling_hits += np.minimum(k, (weights[:, rows] * novel[rows]).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "val_discovery_precision_at_k": (top * wq).sum(axis=1) / invited,
            "val_novel_precision_at_k": (top * novel).sum(axis=1) / invited,
            "val_discovery_recall_at_k": (top * novel).sum(axis=1) / novel_total,
            "val_discovery_recall_ceiling": ceiling_hits / novel_total,
            "val_expected_added_at_k": (top * added).sum(axis=1),
        }


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    draws = values[1:][np.isfinite(values[1:])]
    if not len(draws):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def discovery_metrics(scored: pd.DataFrame, config: ModelConfig) -> dict[str, float]:
    """Discovery metrics pooled and per tier (`…__<tier>`), each with `…_ci_low/_ci_high`."""
    gate = config.gate
    k = config.evaluation.k
    result: dict[str, float] = {}
    parts = {"": scored} | {f"__{t}": scored[scored["tier"] == t] for t in TIERS}
    for suffix, part in parts.items():
        if part.empty:
            continue
        weights = firm_draws(part["credit_code"], gate.bootstrap, config.seed)
        for name, values in _at_k(part, weights, k, GROUP_COLUMNS).items():
            low, high = _interval(values, gate.confidence)
            result[f"{name}{suffix}"] = float(values[0])
            result[f"{name}{suffix}_ci_low"] = low
            result[f"{name}{suffix}_ci_high"] = high
        result |= {f"{n}{suffix}": v for n, v in _calibration_unapplied(part).items()}
    result["val_examples"] = float(len(scored))
    result["val_positives"] = float(scored["label"].sum())
    result["val_would_qualify"] = float(scored["would_qualify"].sum())
    result["val_novel_qualifiers"] = float(scored["novel"].sum())
    return result


def _calibration_unapplied(part: pd.DataFrame) -> dict[str, float]:
    rows = part[~part["applied_by_date"]]
    p = rows["p_qualify"].to_numpy(dtype="float64")
    y = rows["would_qualify"].to_numpy(dtype="int64")
    if not len(rows) or np.isnan(p).all():
        return {}
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "val_qualify_brier_unapplied": float(brier_score_loss(y, p)),
        "val_qualify_log_loss_unapplied": float(log_loss(y, p, labels=[0, 1])),
    }


# --- the champion gate --------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    gain: float  # challenger − champion on the gate metric, on the sample
    gain_low: float  # paired-bootstrap lower bound of the gain
    brier_change: float  # challenger − champion (positive = worse)
    reason: str


def gate_label(scored: pd.DataFrame) -> str:
    """What the gate counts as a hit: novel qualifiers with the generator's truth, else the
    observed label (a title within the horizon)."""
    return "novel" if "novel" in scored else "label"


def paired_gate(
    champion: pd.DataFrame, challenger: pd.DataFrame, config: ModelConfig
) -> GateDecision:
    """Promote the challenger only when the paired-bootstrap lower bound of its gain in
    precision@k on the gate label (novel qualifiers) is above 0 and its Brier is not worse
    than the champion's beyond the configured tolerance. Both frames score the same
    validation rows (same order)."""
    gate = config.gate
    k = config.evaluation.k
    label = gate_label(challenger)
    if (
        len(champion) != len(challenger)
        or not (champion["credit_code"].to_numpy() == challenger["credit_code"].to_numpy()).all()
    ):
        raise ValueError("champion and challenger must be scored on the same validation rows")
    weights = firm_draws(challenger["credit_code"], gate.bootstrap, config.seed)
    hits = []
    for frame in (champion, challenger):
        order, group_id = _order(frame, GROUP_COLUMNS)
        top = _top_k_counts(weights, order, group_id, k)
        y = frame[label].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            hits.append((top * y).sum(axis=1) / top.sum(axis=1))
    gain = hits[1] - hits[0]
    gain_low = float(np.quantile(gain[1:], 1 - gate.confidence)) if len(gain) > 1 else np.nan
    brier_change = _brier(challenger, label) - _brier(champion, label)
    if not gain_low > 0:
        reason = f"gain {gain[0]:+.3f}, lower bound {gain_low:+.3f} ≤ 0: not shown to be better"
        return GateDecision(False, float(gain[0]), gain_low, brier_change, reason)
    if brier_change > gate.brier_tolerance:
        reason = f"Brier worse by {brier_change:.4f} (tolerance {gate.brier_tolerance})"
        return GateDecision(False, float(gain[0]), gain_low, brier_change, reason)
    reason = f"gain {gain[0]:+.3f}, lower bound {gain_low:+.3f} > 0"
    return GateDecision(True, float(gain[0]), gain_low, brier_change, reason)


def _brier(frame: pd.DataFrame, label: str) -> float:
    """Brier of p_qualify against would_qualify among the unapplied (truth), else of the
    ordering score against the observed label."""
    if label == "novel":
        rows = frame[~frame["applied_by_date"]]
        p = rows["p_qualify"].to_numpy(dtype="float64")
        if np.isnan(p).all():
            p = rows["score"].clip(0, 1).to_numpy(dtype="float64")
        return (
            float(brier_score_loss(rows["would_qualify"], np.nan_to_num(p))) if len(rows) else 0.0
        )
    return float(brier_score_loss(frame["label"], frame["score"].clip(0, 1)))


# --- reporting ----------------------------------------------------------------------------


def calibration_figure(curves: Mapping[str, pd.DataFrame]) -> Any:
    """A reliability diagram (matplotlib Figure, Agg backend) with one curve per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        axes.plot(curve["mean_predicted"], curve["fraction_positive"], marker="o", label=name)
    axes.set_xlabel("mean predicted priority")
    axes.set_ylabel("fraction certified within the horizon")
    axes.set_title("Calibration on validation dates")
    axes.legend(loc="upper left")
    return figure


def discovery_recall_at_k(
    scored: pd.DataFrame, firms: pd.DataFrame, truth: pd.DataFrame, config: ModelConfig
) -> float:
    """Share of hidden champions (truth: credit_code, tier of qualified firms that never applied
    for it) that appear in their province's top k for that tier. Evaluation only: the truth
    frame comes from the generator and is never read by the pipeline."""
    if truth.empty:
        return float("nan")
    province = (
        firms.set_index("credit_code")["region_code"]
        .astype("str")
        .str[: config.evaluation.province_digits]
    )
    ranked = scored.assign(province=province.reindex(scored["credit_code"]).to_numpy())
    top = rank_within_groups(ranked, ("tier", "province")) <= config.evaluation.k
    invited = set(zip(ranked.loc[top, "credit_code"], ranked.loc[top, "tier"], strict=True))
    wanted = list(zip(truth["credit_code"], truth["tier"], strict=True))
    return sum(pair in invited for pair in wanted) / len(wanted)


def evaluation_table(evaluations: Mapping[str, Evaluation]) -> pd.DataFrame:
    """One row per family with the contract metric names (for printing and comparison)."""
    return pd.DataFrame(
        [{"model_family": family} | ev.metrics for family, ev in evaluations.items()]
    )


def model_card(
    ranker: Any,
    metrics: Mapping[str, float],
    counts: Mapping[str, int],
    config: ModelConfig,
    fingerprint: str,
) -> str:
    """A short model card (Markdown) for one registered version."""

    def metric(name: str) -> str:
        value = metrics.get(name)
        if value is None or not np.isfinite(value):
            return "–"
        low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
        if low is not None and np.isfinite(low):
            return f"{value:.3f} [{low:.3f}, {high:.3f}]"
        return f"{value:.3f}"

    label = {
        "applications": "Q = P(approved | applies, x): each round's applications, features as "
        "published on the round's date; calibrated (Platt, per-tier offset) on the last "
        "training round",
        "title_transitions": "Q = P(title of the tier within 12 months | x) over the candidates "
        "(no applications table: title transitions); A is not fitted, priority = Q",
        "rule_baseline": "no model: the 2022 table's observed points order the candidates",
    }[ranker.basis]
    lines = [
        f"# zjtx-ranker — {ranker.family}",
        "",
        "## Data",
        f"- data fingerprint `{fingerprint}`; training dates "
        f"{', '.join(map(str, config.training_dates))}; validation "
        f"{', '.join(map(str, config.validation_dates))}",
        *(f"- {name}: {value:,}" for name, value in counts.items()),
        "",
        "## Label and priority",
        f"- {label}",
        "- A = P(applies for the tier within 12 months | x), all features incl. history"
        if ranker.a is not None
        else "- A: not fitted (no applications table)",
        f"- priority: `{ranker.priority if ranker.a is not None else 'q_alone'}`",
        f"- selection correction: `{ranker.selection_correction}` — applicants are not the "
        "candidate pool; each application is weighted by 1 / A(x) (clipped, mean 1) so the "
        "fit stands for the candidates, not for who chose to apply. It corrects selection on "
        "what data shows only: firms also apply on what they know of themselves.",
        "",
        "## Validation metrics (k per province and tier; 95 % bootstrap interval over firms)",
        *(
            f"- `{name}`: {metric(name)}"
            for name in (*METRIC_NAMES, *DISCOVERY_METRICS, "val_qualify_brier_unapplied")
        ),
        *(f"- `{GATE_METRIC}__{t}`: {metric(f'{GATE_METRIC}__{t}')}" for t in TIERS),
        "",
        "## Known limits",
        "- Discovery metrics are measured against the generator's truth; a real province has "
        "none, and there the gate falls back to the observed label (a title within 12 months).",
        "- p_qualify is calibrated on applicants; for firms that never applied it may be "
        "optimistic (applicants also select on what data does not show).",
        "- est_score_low/high and p_score_pass estimate the official score from the public 2022 "
        "table; they order and inform and never decide a1_6 / a2_7.",
        "- Reasons explain p_qualify only, from criterion-tied and Article 9 features.",
    ]
    return "\n".join(lines) + "\n"
