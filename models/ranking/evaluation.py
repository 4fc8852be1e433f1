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

On the never-applied pool (candidates with no application for the tier known on the date:
what an invitation can discover), every ordering is scored the same way — the rule ordering,
rule × (1 − A), Q and Q × (1 − A): `val_pool_precision_at_k` and `val_pool_recall_at_k` (hits:
would qualify with the truth, else the observed label), intervals from a bootstrap over
province rounds. The champion gate compares on this pool.
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
# The gate and the bench compare orderings on the never-applied pool (issue 24): candidates
# with no application for the tier known on the date, the firms an invitation can discover.
GATE_METRIC = "val_pool_precision_at_k"
TRUTH_COLUMNS = ("would_qualify", "applied_by_date", "p_apply_true")
# The four orderings every evaluation scores on the same pool: the rule ordering (estimated
# evaluation score) and Q, each alone and times (1 − A).
ORDERINGS = ("rule", "rule_x_not_apply", "q", "q_x_not_apply")
CLUSTERS = ("province", "as_of")  # bootstrap unit: a province's round


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
    # Brier scores a probability: Q's, never the priority (NaN where Q is not estimated)
    q = (
        scored["p_qualify"].to_numpy(dtype="float64", na_value=np.nan)
        if "p_qualify" in scored
        else np.full(len(scored), np.nan)
    )
    brier = (
        float(brier_score_loss(labels, np.clip(q, 0, 1)))
        if len(labels) and not np.isnan(q).any()
        else float("nan")
    )
    return {
        "val_precision_at_k": precision,
        "val_recall_at_k": recall,
        "val_average_precision": (
            float(average_precision_score(labels, scores)) if two_classes else float("nan")
        ),
        "val_roc_auc": float(roc_auc_score(labels, scores)) if two_classes else float("nan"),
        "val_brier": brier,
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
    metrics |= pool_metrics(scored, config)
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


# --- the never-applied pool, four orderings, a bootstrap over province rounds ---------------


def pool_of(scored: pd.DataFrame) -> pd.DataFrame:
    """The candidates no application of which for the tier was known on the date."""
    if "applied_before" not in scored:
        return scored
    return scored[scored["applied_before"].to_numpy(dtype="float64") == 0]


def hit_column(scored: pd.DataFrame) -> str:
    """What counts as a hit: would qualify on review (the generator's truth), else the
    observed label (the tier's title within the horizon)."""
    return "would_qualify" if "would_qualify" in scored else "label"


def ordering_scores(scored: pd.DataFrame) -> dict[str, np.ndarray]:
    """The orderings a scored frame allows: the rule ordering always, Q when it estimates
    p_qualify; × (1 − A) with A where A is fitted (else the same as alone)."""
    rule = scored["est_score_low"].to_numpy(dtype="float64", na_value=np.nan) / 100.0
    apply = scored["p_apply"].to_numpy(dtype="float64", na_value=np.nan)
    not_apply = 1.0 - np.nan_to_num(apply, nan=0.0)
    orders = {"rule": rule, "rule_x_not_apply": rule * not_apply}
    q = scored["p_qualify"].to_numpy(dtype="float64", na_value=np.nan)
    if not np.isnan(q).all():
        orders |= {"q": q, "q_x_not_apply": q * not_apply}
    return orders


@dataclass(frozen=True)
class ClusterHits:
    """Per bootstrap draw (row 0: the sample) and province round (cluster): hits in the top k
    of its groups, invitations sent, and hits in its whole pool (recall's denominator)."""

    hits: np.ndarray
    invited: np.ndarray
    positives: np.ndarray


def cluster_hits(
    pool: pd.DataFrame, score: np.ndarray, k: int, label: str, weights: np.ndarray
) -> ClusterHits:
    """Top k per group (date × tier × province) by `score` under each draw's firm weights
    (`firm_draws`), summed per province round."""
    frame = pool[[*GROUP_COLUMNS, "credit_code"]].assign(score=np.nan_to_num(score, nan=-np.inf))
    order, group_id = _order(frame, GROUP_COLUMNS)
    top = _top_k_counts(weights, order, group_id, k)
    y = pool[label].to_numpy(dtype="float64")
    cluster = pool.groupby(list(CLUSTERS), sort=True).ngroup().to_numpy()
    one_hot = np.zeros((len(pool), cluster.max() + 1 if len(pool) else 0))
    one_hot[np.arange(len(pool)), cluster] = 1.0
    return ClusterHits((top * y) @ one_hot, top @ one_hot, (weights * y) @ one_hot)


def cluster_draws(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot + 1) × clusters multiplicities; row 0 is the sample itself."""
    rng = np.random.default_rng(seed + 1)
    counts = rng.multinomial(n_clusters, np.full(n_clusters, 1 / n_clusters), n_boot)
    return np.vstack([np.ones(n_clusters, dtype="int64"), counts]).astype("float64")


def _draws(pool: pd.DataFrame, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(firm weights per row, cluster multiplicities) of a two-stage bootstrap: province
    rounds drawn with replacement, and firms within them — few provinces alone would hide
    the noise of which firms a round happened to hold."""
    gate = config.gate
    weights = firm_draws(pool["credit_code"], gate.bootstrap, config.seed)
    n_clusters = pool.groupby(list(CLUSTERS)).ngroups
    return weights, cluster_draws(n_clusters, gate.bootstrap, config.seed)


def pool_metrics(scored: pd.DataFrame, config: ModelConfig) -> dict[str, float]:
    """Precision@k and recall@k on the never-applied pool for the model's own ordering
    (`val_pool_…`) and each of the four orderings (`val_pool_…__<ordering>`), with intervals
    from a bootstrap over province rounds and the firms in them (`_ci_low`, `_ci_high`)."""
    pool = pool_of(scored).reset_index(drop=True)
    if pool.empty:
        return {}
    k, gate = config.evaluation.k, config.gate
    label = hit_column(pool)
    orders = {"": pool["score"].to_numpy(dtype="float64")}
    orders |= {f"__{name}": values for name, values in ordering_scores(pool).items()}
    result: dict[str, float] = {"val_pool_examples": float(len(pool))}
    weights, clusters = _draws(pool, config)
    for suffix, values in orders.items():
        hits = cluster_hits(pool, values, k, label, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            found = (clusters * hits.hits).sum(axis=1)
            precision = found / (clusters * hits.invited).sum(axis=1)
            recall = found / (clusters * hits.positives).sum(axis=1)
        for name, series in (("precision", precision), ("recall", recall)):
            low, high = _interval(series, gate.confidence)
            result[f"val_pool_{name}_at_k{suffix}"] = float(series[0])
            result[f"val_pool_{name}_at_k{suffix}_ci_low"] = low
            result[f"val_pool_{name}_at_k{suffix}_ci_high"] = high
    result["val_pool_positives"] = float(pool[label].sum())
    return result


# --- the champion gate --------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    gain: float  # challenger − champion on the gate metric, on the sample
    gain_low: float  # paired-bootstrap lower bound of the gain
    brier_change: float  # challenger − champion (positive = worse)
    reason: str


def paired_gate(
    champion: pd.DataFrame, challenger: pd.DataFrame, config: ModelConfig
) -> GateDecision:
    """Promote the challenger only when the paired-bootstrap lower bound (over province
    rounds) of its gain in precision@k on the never-applied pool is above 0, and its Brier
    (of Q against the hits, where both estimate Q) is not worse beyond the tolerance. Both
    frames score the same validation rows (same order)."""
    gate = config.gate
    k = config.evaluation.k
    if (
        len(champion) != len(challenger)
        or not (champion["credit_code"].to_numpy() == challenger["credit_code"].to_numpy()).all()
    ):
        raise ValueError("champion and challenger must be scored on the same validation rows")
    pools = [pool_of(frame).reset_index(drop=True) for frame in (champion, challenger)]
    label = hit_column(pools[1])
    weights, clusters = _draws(pools[1], config)
    hits = [cluster_hits(p, p["score"].to_numpy(dtype="float64"), k, label, weights) for p in pools]
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = (clusters * (hits[1].hits - hits[0].hits)).sum(axis=1) / (
            clusters * hits[1].invited
        ).sum(axis=1)
    finite = gain[1:][np.isfinite(gain[1:])]
    gain_low = float(np.quantile(finite, 1 - gate.confidence)) if len(finite) else np.nan
    brier_change = _brier(pools[1], label) - _brier(pools[0], label)
    if not gain_low > 0:
        reason = f"gain {gain[0]:+.3f}, lower bound {gain_low:+.3f} ≤ 0: not shown to be better"
        return GateDecision(False, float(gain[0]), gain_low, brier_change, reason)
    if brier_change > gate.brier_tolerance:
        reason = f"Brier worse by {brier_change:.4f} (tolerance {gate.brier_tolerance})"
        return GateDecision(False, float(gain[0]), gain_low, brier_change, reason)
    reason = f"gain {gain[0]:+.3f}, lower bound {gain_low:+.3f} > 0"
    return GateDecision(True, float(gain[0]), gain_low, brier_change, reason)


def _brier(pool: pd.DataFrame, label: str) -> float:
    """Brier of Q (p_qualify) against the hits on the pool; NaN where Q is not estimated (a
    priority is not a probability, and is never scored as one)."""
    p = pool["p_qualify"].to_numpy(dtype="float64", na_value=np.nan)
    if not len(pool) or np.isnan(p).all():
        return float("nan")
    return float(brier_score_loss(pool[label], np.clip(np.nan_to_num(p), 0, 1)))


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
        "## Validation metrics (k per province and tier; 95 % bootstrap interval)",
        *(
            f"- `{name}`: {metric(name)}"
            for name in (*METRIC_NAMES, *DISCOVERY_METRICS, "val_qualify_brier_unapplied")
        ),
        "",
        "## On the never-applied pool (the gate's metric; interval over province rounds)",
        f"- `{GATE_METRIC}` (this model's ordering): {metric(GATE_METRIC)}",
        *(
            f"- `{name}__{o}`: {metric(f'{name}__{o}')}"
            for o in ORDERINGS
            for name in (GATE_METRIC, "val_pool_recall_at_k")
        ),
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
