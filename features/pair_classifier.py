"""Train the calibrated pair classifier that decides the matcher's middle band (issue 14).

Labels: the generator's truth (`truth/mentions.csv`) and officials' decisions. Examples: every
candidate pair of every mention the deterministic and fuzzy stages leave to review (the same
pairs the classifier weighs at run time), label 1 when the candidate is the mention's firm.

Model: a logistic regression on `PAIR_FEATURES`, calibrated with Platt scaling on
cross-validated predictions (scikit-learn's CalibratedClassifierCV, sigmoid, ensemble=False).
Both steps are linear in the features, so the calibrated model folds into one intercept and one
coefficient per feature: it ships as data in `configs/matching.yaml` (`pair_classifier`),
readable and reviewable like any threshold, and nothing is loaded or downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.match_config import MatchingConfig, PairClassifier
from features.match_registry import Registry
from features.matching import compare_candidates, link_mentions
from features.sources import SourceData


@dataclass(frozen=True)
class LabelledData:
    """A data set and who its mentions are: source, row, column, credit_code (empty = NIL)."""

    data: SourceData
    truth: pd.DataFrame
    name: str


def training_pairs(labelled: LabelledData, config: MatchingConfig) -> pd.DataFrame:
    """Candidate pairs of the mentions left to review, with `label` (1 = the mention's firm)."""
    without = config.model_copy(update={"pair_classifier": None})
    links = link_mentions(labelled.data, without)
    review = links[links["method"] == "review"]
    truth = labelled.truth.astype({"row": "int64"})
    truth = truth.assign(true_code=truth["credit_code"].astype("str").fillna(""))
    review = review.merge(
        truth[["source", "row", "column", "true_code"]], on=["source", "row", "column"]
    )
    registry = Registry.from_sources(labelled.data)
    pairs = compare_candidates(review, registry, without, all_links=links)
    # One example per mention and candidate: a name mentioned twice counts twice.
    examples = review[["raw_name", "true_code"]].merge(pairs, on="raw_name")
    examples["label"] = (examples["credit_code"] == examples["true_code"]).astype(int)
    return examples.assign(data_set=labelled.name)


def fit_pair_classifier(
    examples: pd.DataFrame,
    features: tuple[str, ...],
    decision: PairClassifier,
    trained_on: str,
    seed: int = 0,
) -> PairClassifier:
    """Logistic regression + Platt calibration, folded into one linear model on raw features."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    x = examples[list(features)].to_numpy(dtype=float)
    y = examples["label"].to_numpy(dtype=int)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    centre = x.mean(axis=0)
    base = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    calibrated = CalibratedClassifierCV(base, method="sigmoid", cv=5, ensemble=False)
    calibrated.fit((x - centre) / scale, y)
    (fitted,) = calibrated.calibrated_classifiers_
    weights = fitted.estimator.coef_[0] / scale
    bias = float(
        fitted.estimator.intercept_[0] - (fitted.estimator.coef_[0] * centre / scale).sum()
    )
    (sigmoid,) = fitted.calibrators
    # sklearn's sigmoid calibrator: p = 1 / (1 + exp(a·f + b)), f the decision function
    a, b = float(sigmoid.a_), float(sigmoid.b_)
    coefficients = tuple(round(float(-a * w), 6) for w in weights)
    return decision.model_copy(
        update={
            "features": tuple(features),
            "coefficients": coefficients,
            "intercept": round(-a * bias - b, 6),
            "trained_on": trained_on,
        }
    )


def calibration_table(
    examples: pd.DataFrame, model: PairClassifier, bins: int = 10
) -> pd.DataFrame:
    """Mean predicted probability against the observed share of matches, per probability bin."""
    probability = model.probability(examples)
    frame = pd.DataFrame({"p": probability, "label": examples["label"].to_numpy()})
    frame["bin"] = np.minimum((frame["p"] * bins).astype(int), bins - 1)
    return frame.groupby("bin").agg(
        pairs=("p", "size"), predicted=("p", "mean"), observed=("label", "mean")
    )


def decisions_as_truth(data: SourceData, decisions: pd.DataFrame) -> pd.DataFrame:
    """Officials' decisions as labels: source, row, column, credit_code (empty = none)."""
    from features.match_decisions import NO_FIRM
    from features.matching import collect_mentions, decided_codes

    mentions = collect_mentions(data)
    decided = decided_codes(data, mentions, decisions)
    labelled = mentions[decided.notna().to_numpy()][["source", "row", "column"]].copy()
    codes = decided.dropna()
    labelled["credit_code"] = codes.where(codes != NO_FIRM, "").to_numpy()
    return labelled.reset_index(drop=True)
