"""Exact comparison and evidence number formatting."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from models.criteria.text import (
    Date,
    TextPool,
    Wan,
    fixed_text,
    integer_text,
    joined_per_group,
    percent,
    ratio_compare,
    render,
    to_fen,
    wan,
    wan_text,
)


@pytest.mark.parametrize(
    ("num", "den", "ratio", "op", "expected"),
    [
        (264_401.16, 8_813_372.00, "0.03", ">=", True),  # float division: 0.029999999999999995
        (264_401.15, 8_813_372.00, "0.03", ">=", False),
        (9_876_543.12, 12_345_678.90, "0.8", ">=", True),
        (26_666_666.68, 33_333_333.35, "0.8", "<=", True),
        (26_666_666.69, 33_333_333.35, "0.8", "<=", False),
        (44_100_000.00, 40_000_000.00, "1.1025", ">=", True),
        (float("nan"), 1.0, "0.5", ">=", False),
    ],
)
def test_ratio_compare_is_exact(
    num: float, den: float, ratio: str, op: str, expected: bool
) -> None:
    got = ratio_compare(to_fen(np.array([num])), to_fen(np.array([den])), Fraction(ratio), op)  # type: ignore[arg-type]
    assert bool(got[0]) is expected


def test_large_amounts_near_a_tie_are_decided_exactly() -> None:
    # amounts below 2**53 fen whose cross products are beyond float precision (ulp 2): the
    # near-tie falls back to integer arithmetic
    num = np.array([3.0 * 2**45])
    den = np.array([100.0 * 2**45])
    assert ratio_compare(num, den, Fraction(3, 100), ">=")[0]
    assert not ratio_compare(num - 1, den, Fraction(3, 100), ">=")[0]


def test_number_text() -> None:
    assert integer_text(np.array([0, -1234, 1234567])).to_pylist() == ["0", "-1,234", "1,234,567"]
    assert fixed_text(np.array([16500, 5, -5]), 1).to_pylist() == ["1,650.0", "0.5", "-0.5"]
    assert wan_text(np.array([1_499_999_999.0]), "floor").to_pylist() == ["1,499.9"]
    assert wan_text(np.array([1_499_999_999.0]), "ceil").to_pylist() == ["1,500.0"]
    assert (wan(15_000_000), wan(12_345_000), percent(0.03), percent(0.055)) == (
        "1,500",
        "1,234.5",
        "3%",
        "5.5%",
    )


def test_pool_stores_equal_texts_once() -> None:
    # given 1,000 firms with only two distinct figures
    pool = TextPool()
    fen = np.where(np.arange(1000) % 2 == 0, 1.65e9, 2e9)
    codes = render(pool, np.arange(1000), ["营业收入 ", Wan(fen), "万元"])
    dates = render(
        pool, np.arange(2), ["至", Date(np.array(["2026-01-02", "NaT"], dtype="datetime64[us]"))]
    )
    encode, texts = pool.finish()
    # then
    shown = texts.take(encode(codes)).to_pylist()
    assert shown[:2] == ["营业收入 1,650.0万元", "营业收入 2,000.0万元"]
    assert texts.take(encode(dates)).to_pylist() == ["至2026-01-02", "至日期不详"]
    assert len(texts) == 4


def test_joined_per_group_is_the_groupby_join_of_pandas() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "credit_code": rng.choice(["B", "A", "C", None], 400),
            "tier": rng.choice(["specialized", "little_giant"], 400),
            "text": [f"t{i}" for i in rng.integers(0, 50, 400)],
        }
    ).astype("str")
    keys = ["credit_code", "tier"]
    expected = frame.groupby(keys, sort=False)["text"].agg("；".join)
    got = joined_per_group(frame, keys, "text", "；")
    pd.testing.assert_series_equal(got, expected, check_exact=True)
    empty = joined_per_group(frame.iloc[:0], keys, "text", "；")
    pd.testing.assert_series_equal(empty, frame.iloc[:0].groupby(keys)["text"].agg("；".join))
