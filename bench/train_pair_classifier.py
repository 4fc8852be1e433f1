"""Train the matcher's pair classifier and print the `pair_classifier` section of
configs/matching.yaml (issue 14). Dev-time tooling: the model ships as data in the config.

    .venv/bin/python -m bench.train_pair_classifier [--seeds 5 6] [--data DIR ...]

Labels: the generator's truth of synthetic name-variant data sets (seeds other than the
benchmark's 11, so the benchmark measures unseen data), plus, for each --data DIR, its
`truth/mentions.csv` if present and the officials' decisions in the store under ZJTX_HOME.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from bench.name_variants import synthetic_dataset
from features.match_config import PAIR_FEATURES, MatchingConfig
from features.match_decisions import load_decisions
from features.pair_classifier import (
    LabelledData,
    calibration_table,
    decisions_as_truth,
    fit_pair_classifier,
    training_pairs,
)
from features.sources import load_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[5, 6])
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--data", type=Path, nargs="*", default=[])
    options = parser.parse_args()
    config = MatchingConfig.load()
    if config.pair_classifier is None:
        raise SystemExit("configs/matching.yaml has no pair_classifier section to start from")
    sets = []
    for seed in options.seeds:
        variants = synthetic_dataset(options.firms, options.firms, seed=seed)
        sets.append(LabelledData(variants.data, variants.truth, f"name_variants seed {seed}"))
    decisions = load_decisions()
    for directory in options.data:
        data = load_sources(directory)
        truth = decisions_as_truth(data, decisions)
        path = directory / "truth" / "mentions.csv"
        if path.is_file():
            generated = pd.read_csv(path, dtype=str, keep_default_na=False)
            generated["row"] = generated["row"].astype("int64")
            truth = pd.concat([truth, generated], ignore_index=True)
            truth = truth.drop_duplicates(["source", "row", "column"])  # decisions first
        sets.append(LabelledData(data, truth, str(directory)))
    examples = pd.concat([training_pairs(s, config) for s in sets], ignore_index=True)
    trained_on = "; ".join(s.name for s in sets) + f" ({len(examples):,} pairs)"
    model = fit_pair_classifier(examples, PAIR_FEATURES, config.pair_classifier, trained_on)
    print(calibration_table(examples, model).to_string())
    section = model.model_dump(mode="json")
    print(yaml.safe_dump({"pair_classifier": section}, allow_unicode=True, sort_keys=False))


if __name__ == "__main__":
    main()
