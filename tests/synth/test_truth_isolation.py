"""The pipeline never reads truth/: only the generator and evaluation commands may."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ("core", "features", "models", "flows", "zjtx")
# The generator writes truth/; evaluation commands read it to score, never to decide.
ALLOWED = {
    "zjtx/cli_generate.py": "writes truth/",
    "zjtx/cli_match.py": "match-eval scores links against truth/mentions.csv",
    "zjtx/cli_train.py": "reports discovery metrics against truth/hidden_champions.csv and "
    "truth/qualification.csv",
    "flows/publication/runs.py": "leaves truth/ out of the input fingerprints",
}
TRUTH_PATH = re.compile(r"""["'](?:[^"'\n]*/)?truth(?:/[^"'\n]*)?["']""")


def test_no_pipeline_module_refers_to_the_truth_directory() -> None:
    offenders = []
    for package in PIPELINE:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ALLOWED or re.search(r"cli_.*eval", relative):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if TRUTH_PATH.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_pattern_catches_a_truth_path() -> None:
    assert TRUTH_PATH.search('data_dir / "truth" / "mentions.csv"')
    assert TRUTH_PATH.search("open('var/data/demo/truth/mentions.csv')")
    assert not TRUTH_PATH.search("# scores against ground truth")
