"""The pair classifier (issue 14): the folded linear model is sklearn's calibrated model, and
it decides only the review band, and decides it right."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.match_config import PAIR_FEATURES, MatchingConfig
from features.matching import link_mentions
from features.pair_classifier import fit_pair_classifier

CONFIG = MatchingConfig.load()


def test_folded_coefficients_reproduce_the_calibrated_model() -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    # given random pair features with a noisy label
    rng = np.random.default_rng(3)
    examples = pd.DataFrame(rng.random((600, len(PAIR_FEATURES))), columns=list(PAIR_FEATURES))
    logit = 6 * examples["core_similarity"] - 3 * examples["region_conflict"] - 2
    examples["label"] = (rng.random(600) < 1 / (1 + np.exp(-logit))).astype(int)
    assert CONFIG.pair_classifier is not None
    # when the classifier is fitted and folded into one linear model
    model = fit_pair_classifier(examples, PAIR_FEATURES, CONFIG.pair_classifier, "test")
    # then it gives sklearn's calibrated probabilities (same scaling, same folds)
    x = examples[list(PAIR_FEATURES)].to_numpy()
    centre, scale = x.mean(axis=0), x.std(axis=0)
    reference = CalibratedClassifierCV(
        LogisticRegression(C=1.0, max_iter=2000, random_state=0),
        method="sigmoid",
        cv=5,
        ensemble=False,
    ).fit((x - centre) / scale, examples["label"])
    expected = reference.predict_proba((x - centre) / scale)[:, 1]
    assert np.allclose(model.probability(examples), expected, atol=1e-4)
    # and more similar names are more likely the same firm
    assert model.coefficients[PAIR_FEATURES.index("core_similarity")] > 0


def test_classifier_decides_only_the_review_band_and_never_across_regions() -> None:
    from bench.name_variants import synthetic_dataset

    # given a name-variant data set the classifier was not trained on (seeds 5 and 6 were)
    variants = synthetic_dataset(3000, 3000, seed=21)
    without = CONFIG.model_copy(update={"pair_classifier": None})
    # when matched with and without the classifier
    before = link_mentions(variants.data, without)
    after = link_mentions(variants.data, CONFIG)
    decided = (after["method"] == "classifier").to_numpy()
    # then it links some mentions, each one the stages alone had left to review
    assert decided.sum() >= 5
    assert (before.loc[decided, "method"] == "review").all()
    # and its links are right (against the generator's truth)
    truth = variants.truth.set_index(["source", "row", "column"])["credit_code"]
    keys = pd.MultiIndex.from_frame(after.loc[decided, ["source", "row", "column"]])
    correct = (
        after.loc[decided, "credit_code"].to_numpy() == truth.reindex(keys).to_numpy()
    ).mean()
    assert correct >= 0.97
    # and the rest of the queue only shrinks
    assert (after["method"] == "review").sum() < (before["method"] == "review").sum()
