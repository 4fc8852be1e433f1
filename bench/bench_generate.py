"""Benchmark `synth.generate` (issue 4): 1,000,000 firms in under 5 minutes, under 8 GB.

Usage: .venv/bin/python bench/bench_generate.py [--firms N] [--seed S] [--out DIR]
Prints one table: firms, seconds, peak memory (resource.getrusage maxrss), rows per table.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the output here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="zjtx-bench-"))
    start = time.perf_counter()
    summary = generate(
        args.firms,
        args.seed,
        out,
        progress=lambda s: print(
            f"  {s:<13} {time.perf_counter() - start:7.1f} s", file=sys.stderr
        ),
    )
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB
    print(f"{'firms':<24}{summary.n_firms:>14,}")
    print(f"{'seconds':<24}{seconds:>14.1f}")
    print(f"{'peak memory (GiB)':<24}{peak_gib:>14.2f}")
    for stage, value in summary.stage_seconds.items():
        print(f"{'  stage ' + stage:<24}{value:>14.1f}")
    for name, rows in summary.rows.items():
        print(f"{name:<24}{rows:>14,}")
    for name, rows in summary.truth_rows.items():
        print(f"{'truth/' + name:<24}{rows:>14,}")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
