"""Fixtures shared by the feature tests."""

from __future__ import annotations

import pytest

from features.feature_config import FeatureConfig
from models.ranking_config import load_model_config


@pytest.fixture(scope="module")
def config() -> FeatureConfig:
    """The feature settings of configs/model.yaml."""
    return load_model_config().features
