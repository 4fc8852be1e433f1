"""Discovery ranking benchmark on worlds we did not tune on (issue 24).

    python -m bench.bench_ranking [--firms 20000] [--worlds NAME ...] [--work DIR]

Each world is generated with its own shape (synth.WorldConfig: rounds of history, application
propensity, approval strictness, missing product declarations, strength of the Article 9
signals) and a seed that was never used while developing. For each: validate, attribute
mentions, find the rounds in the data (models/ranking/rounds.py), replay the criteria, train
every family as `zjtx train` does (models/ranking/selection.py) and score, on the never-applied
pool of the validation rounds and against the generator's truth (evaluation only):
- the rule ordering and rule × (1 − A),
- Q and Q × (1 − A) of each learned family,
with precision@k and recall@k and 95 % intervals from a bootstrap over province rounds and the
firms in them. * marks the champion the gate keeps; the last lines check that the champion's
precision is never below the rule ordering's lower bound.
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
    build_training_set,
    evaluate,
    fit_applicant_propensity,
    fit_apply_model,
    fit_score_model,
    replay_criteria,
    rule_baseline_ranker,
    split_by_date,
)
from models.ranking.evaluation import GATE_METRIC, Evaluation
from models.ranking.rounds import plan_rounds
from models.ranking.selection import RULE, fit_and_evaluate, gate_families
from models.ranking_config import ModelConfig, load_model_config
from synth import WorldConfig, generate, load_synth_config

# Seeds never used while developing (development used 3, 5, 7 and 11).
WORLDS: dict[str, tuple[int, WorldConfig]] = {
    "eager applicants, few declarations": (
        101,
        WorldConfig(
            application_rounds=5, apply_propensity=1.6, approval_strictness=0.5,
            no_products_share=0.3, signal_strength=1.0,
        ),
    ),
    "strict review, weak signals": (
        202,
        WorldConfig(
            application_rounds=6, apply_propensity=0.7, approval_strictness=1.0,
            no_products_share=0.1, signal_strength=0.3,
        ),
    ),
    "long history, no submission dates": (
        303,
        WorldConfig(
            application_rounds=7, apply_propensity=1.0, approval_strictness=0.0,
            no_products_share=0.5, signal_strength=0.6, submitted_on=False,
        ),
    ),
}  # fmt: skip


def thresholds() -> dict[str, float]:
    criteria = load_criteria_config()
    return {
        "specialized": float(criteria.a1.evaluation_score_min),
        "little_giant": float(criteria.a2.evaluation_score_min),
    }


def run_world(name: str, firms: int, work: Path, base: ModelConfig) -> list[dict[str, object]]:
    seed, world = WORLDS[name]
    out = work / f"world{seed}"
    started = time.perf_counter()
    generate(firms, seed, out, world=world)
    data = attribute_mentions(load_sources(out))
    plan = plan_rounds(data, base, load_synth_config().evaluation_date)
    if plan.too_little:
        return [{"world": name, "ordering": f"no model: {plan.too_little}"}]
    config = plan.apply(base)
    criteria = replay_criteria(data, [*plan.training, *plan.validation], load_criteria_config())
    examples = build_training_set(data, criteria, config)
    truth = pd.read_csv(out / "truth" / "qualification.csv", dtype={"credit_code": "str"})
    train, valid = split_by_date(examples.candidates, config)
    models = (
        fit_apply_model(train, config),
        fit_score_model(
            split_by_date(examples.scores, config)[0], config.features.evaluation_estimate
        ),
        fit_applicant_propensity(train, config),
    )
    evaluations: dict[str, Evaluation] = {
        family: fit_and_evaluate(
            family, examples.applications, examples.candidates, valid, config, thresholds(),
            models, truth,
        )[1]
        for family in config.models.families
    }  # fmt: skip
    rule = rule_baseline_ranker(config.features.evaluation_estimate, thresholds())
    reference = evaluate(rule, valid, config, truth)
    steps = gate_families(
        {f: e.scored for f, e in evaluations.items()}, config, None, reference.scored
    )
    champion = [s.family for s in steps if s.promoted][-1]
    learned = [f for f in config.models.families if f != RULE]
    # the rule orderings, with A from a learned family (A is shared by every family)
    with_a = evaluations[learned[0]].metrics if learned else reference.metrics
    measured: list[tuple[str, dict[str, float], str]] = [
        ("rule", reference.metrics, "__rule"),
        ("rule × (1 − A)", with_a, "__rule_x_not_apply"),
    ]
    for family in learned:
        metrics = evaluations[family].metrics
        measured += [
            (f"Q ({family})", metrics, "__q"),
            (f"Q × (1 − A) ({family})", metrics, "__q_x_not_apply"),
        ]
    own = evaluations[champion].metrics
    rows = []
    seconds = round(time.perf_counter() - started)
    for label, metrics, suffix in measured:
        rows.append(_row(name, seed, label, metrics, suffix, plan, seconds))
    rows.append(_row(name, seed, f"champion: {champion} *", own, "", plan, seconds))
    rows[-1]["gate"] = "; ".join(f"{s.family}: {s.reason}" for s in steps)
    rows[-1]["kept correction"] = ", ".join(
        f"{f}={int(evaluations[f].metrics.get('val_selection_correction_kept', 0))}"
        for f in learned
    )
    return rows


def _row(
    world: str,
    seed: int,
    ordering: str,
    m: dict[str, float],
    suffix: str,
    plan: object,
    seconds: int,
) -> dict[str, object]:
    def interval(name: str) -> str:
        low, high = m.get(f"{name}{suffix}_ci_low"), m.get(f"{name}{suffix}_ci_high")
        return f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""

    return {
        "world": world,
        "seed": seed,
        "ordering": ordering,
        "pool P@k": m.get(f"{GATE_METRIC}{suffix}", float("nan")),
        "P@k 95% CI": interval(GATE_METRIC),
        "pool R@k": m.get(f"val_pool_recall_at_k{suffix}", float("nan")),
        "R@k 95% CI": interval("val_pool_recall_at_k"),
        "pool": int(m.get("val_pool_examples", 0)),
        "qualifiers in pool": int(m.get("val_pool_positives", 0)),
        "validation rounds": ", ".join(str(d.year) for d in plan.validation),  # type: ignore[attr-defined]
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    config = load_model_config()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for name in args.worlds:
            rows.extend(run_world(name, args.firms, Path(tmp), config))
            print(f"world {name!r} done", flush=True)
    table = pd.DataFrame(rows)
    k = config.evaluation.k
    print(
        f"\nOn the never-applied pool of the validation rounds (k = {k} per province and tier), "
        f"{args.firms:,} firms per world; hits = would qualify (generator's truth); "
        "* = the champion the gate keeps"
    )
    print(_markdown(table.drop(columns=["gate", "kept correction"], errors="ignore")))
    for name in args.worlds:
        part = table[table["world"] == name]
        if "pool P@k" not in part or part["pool P@k"].isna().all():
            continue
        rule = part[part["ordering"] == "rule"].iloc[0]
        champion = part[part["ordering"].str.endswith("*")].iloc[0]
        low = float(str(rule["P@k 95% CI"]).strip("[]").split(",")[0])
        verdict = "holds" if champion["pool P@k"] >= low else "FAILS"
        print(
            f"{name}: {champion['ordering']} pool P@k {champion['pool P@k']:.3f} vs the "
            f"rule ordering's lower bound {low:.3f}: {verdict}; gate: {champion['gate']}; "
            f"selection correction kept: {champion['kept correction']}"
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
