"""Same seed → byte-identical files; another seed → another data set."""

from __future__ import annotations

import hashlib
from pathlib import Path

from synth import generate
from synth.generate import Summary
from tests.synth.conftest import FIRMS, SEED


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*.csv"))
    }


def test_same_seed_gives_the_same_bytes(generated: Summary, tmp_path: Path) -> None:
    # given a data set generated with seed 11
    first = _digests(generated.out_dir)
    # when generating again with the same size and seed elsewhere
    generate(FIRMS, SEED, tmp_path)
    # then every file, truth included, is byte-identical
    assert _digests(tmp_path) == first
    assert "truth/mentions.csv" in first and "firms.csv" in first


def test_another_seed_gives_other_data(generated: Summary, tmp_path: Path) -> None:
    # when generating with another seed
    generate(FIRMS, SEED + 1, tmp_path)
    # then the registry differs
    other = _digests(tmp_path)
    assert other["firms.csv"] != _digests(generated.out_dir)["firms.csv"]
