"""Discovery ranking benchmark: novel precision@k per seed and tier, with bootstrap intervals.

    python -m bench.bench_ranking [--firms 20000] [--seeds 5 7 11] [--work DIR]

For each generator seed: generate, validate, attribute mentions, replay the criteria on the
training and validation dates, train, and measure on the validation date against the
generator's truth (truth/qualification.csv, evaluation only):
- the rule baseline (the 2022 table's observed points),
- Q alone and Q × (1 − A) (the champion family the gate would keep),
- the old model: logistic regression on "certified within 12 months" over every feature.
The champion is chosen as `zjtx train` does: families in order, each promoted only when the
paired-bootstrap lower bound of its gain in novel precision@k is above 0.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from features.matching import attribute_mentions
from features.sources import load_sources
from models.criteria_config import load_criteria_config
from models.ranking import (
    TIERS,
    DiscoveryRanker,
    build_training_set,
    evaluate,
    feature_columns,
    fit_apply_model,
    fit_discovery,
    fit_family,
    fit_score_model,
    paired_gate,
    replay_criteria,
    split_by_date,
)
from models.ranking_config import ModelConfig, load_model_config
from synth import generate


def thresholds() -> dict[str, float]:
    criteria = load_criteria_config()
    return {
        "specialized": float(criteria.a1.evaluation_score_min),
        "little_giant": float(criteria.a2.evaluation_score_min),
    }


def run_seed(seed: int, firms: int, work: Path, config: ModelConfig) -> list[dict[str, object]]:
    out = work / f"seed{seed}"
    started = time.perf_counter()
    generate(firms, seed, out)
    data = attribute_mentions(load_sources(out))
    dates = [*config.training_dates, *config.validation_dates]
    criteria = replay_criteria(data, dates, load_criteria_config())
    examples = build_training_set(data, criteria, config)
    truth = pd.read_csv(out / "truth" / "qualification.csv", dtype={"credit_code": "str"})
    cand_train, valid = split_by_date(examples.candidates, config)
    apps = examples.applications
    apply_model = fit_apply_model(cand_train, config)
    score_model = fit_score_model(
        split_by_date(examples.scores.assign(label=0, applied=0), config)[0],
        config.features.evaluation_estimate,
    )
    lines = thresholds()
    rankers: dict[str, DiscoveryRanker] = {}
    for family in config.models.families:
        rankers[family] = fit_discovery(
            family, apps, examples.candidates, config, lines, apply_model, score_model
        )
    evaluations = {f: evaluate(r, valid, config, truth) for f, r in rankers.items()}
    # The gate, families in order (no champion before the first).
    champion = config.models.families[0]
    for family in config.models.families[1:]:
        decision = paired_gate(evaluations[champion].scored, evaluations[family].scored, config)
        print(
            f"seed {seed}: {family} vs {champion}: {decision.reason}; novel P@k "
            f"{evaluations[family].metrics.get('val_novel_precision_at_k', float('nan')):.3f}",
            flush=True,
        )
        if decision.promote:
            champion = family
    best = rankers[champion]
    q_alone = DiscoveryRanker(
        best.q, best.a, best.score_model, best.estimate, best.thresholds, "q_alone", best.basis
    )
    old = fit_family("logistic", cand_train, config, feature_columns(cand_train))
    old_ranker = DiscoveryRanker(
        old, None, None, best.estimate, best.thresholds, "q_alone", "title_transitions"
    )
    measured = {
        "rule baseline": evaluations["rule_baseline"],
        f"Q alone ({champion})": evaluate(q_alone, valid, config, truth),
        f"Q×(1−A) ({champion})": evaluate(best, valid, config, truth),
        "old label (logistic)": evaluate(old_ranker, valid, config, truth),
    }
    champion_name = f"Q×(1−A) ({champion})" if best.uses_apply_model else f"Q alone ({champion})"
    if champion == "rule_baseline":
        champion_name = "rule baseline"
    rows = []
    seconds = time.perf_counter() - started
    for tier in ("both", *TIERS):
        suffix = "" if tier == "both" else f"__{tier}"
        base = measured["rule baseline"].metrics.get(f"val_novel_precision_at_k{suffix}")
        for name, ev in measured.items():
            m = ev.metrics
            key = f"val_novel_precision_at_k{suffix}"
            rows.append(
                {
                    "seed": seed,
                    "tier": tier,
                    "ordering": name + (" *" if name == champion_name else ""),
                    "novel P@k": m.get(key, float("nan")),
                    "95% CI": f"[{m.get(key + '_ci_low', float('nan')):.3f}, "
                    f"{m.get(key + '_ci_high', float('nan')):.3f}]",
                    "disc P@k": m.get(f"val_discovery_precision_at_k{suffix}", float("nan")),
                    "added@k": m.get(f"val_expected_added_at_k{suffix}", float("nan")),
                    "Brier unapplied": m.get(f"val_qualify_brier_unapplied{suffix}", float("nan")),
                    "target": _target(base) if name == champion_name else "",
                    "novel qualifiers": int(
                        ev.scored.loc[(ev.scored["tier"] == tier) | (tier == "both"), "novel"].sum()
                    ),
                    "seconds": round(seconds),
                }
            )
    return rows


def _target(base: float | None) -> str:
    if base is None or base != base:
        return ""
    return f"≥ {min(1.3 * base, base + (1 - base) / 2):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 7, 11])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    config = load_model_config()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        rows = []
        for seed in args.seeds:
            rows.extend(run_seed(seed, args.firms, work, config))
            print(f"seed {seed} done", flush=True)
    table = pd.DataFrame(rows)
    k = config.evaluation.k
    rounds = ", ".join(str(d) for d in config.validation_dates)
    print(
        f"\nNovel precision@k (k = {k} per province and tier) on {rounds}, "
        f"{args.firms:,} firms; * = champion (gate); target = 1.3× the baseline or half its "
        "distance to 1.0"
    )
    print(_markdown(table))
    both = table[(table["tier"] == "both") & table["ordering"].str.endswith("*")]
    base = table[(table["tier"] == "both") & table["ordering"].str.startswith("rule baseline")]
    for (_, champion), (_, baseline) in zip(both.iterrows(), base.iterrows(), strict=True):
        ratio = champion["novel P@k"] / baseline["novel P@k"]
        print(
            f"seed {champion['seed']}: champion {champion['ordering']} novel P@k "
            f"{champion['novel P@k']:.3f} = {ratio:.2f}× the rule baseline ({champion['target']})"
        )


def _markdown(table: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
