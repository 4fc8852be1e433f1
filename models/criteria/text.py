"""Exact comparisons and cheap, vectorised evidence text.

Amounts are compared in integral fen (分), so a value exactly on a threshold is never lost to
floating-point error (附件3（八）: 以上/以下/不低于/不超过 include the number). Figures shown in the
evidence are rounded *towards the verdict* (floor for a floor, ceiling for a ceiling), so a shown
figure never contradicts the verdict beside it (1,499.9万元 < 1,500万元, never 1,500.0).

Evidence strings go into one `TextPool`: a constant text is stored once, texts with figures are
built column-wise with pyarrow and deduplicated once at the end into a categorical.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from models.labels import table_text

Rounding = Literal["floor", "ceil"]

PASS, FAIL, UNKNOWN = 0, 1, 2
UNDECIDED = -1
FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000  # 1万元 = 10,000 yuan


# --- exact comparison ---------------------------------------------------------------------


def to_fen(yuan: np.ndarray) -> np.ndarray:
    """Amounts as integral fen in float64 (exact below 2**53 fen ≈ 9e13 yuan); NaN kept."""
    return np.rint(np.asarray(yuan, dtype=np.float64) * FEN_PER_YUAN)


def ratio_compare(
    num: np.ndarray, den: np.ndarray, ratio: Fraction, op: Literal[">=", "<="]
) -> np.ndarray:
    """`num / den >= ratio` (or `<=`) exactly, for integral `num`, `den` > 0; NaN → False.

    Cross-multiplied in float64; rows whose two sides are within rounding distance are
    recomputed with Python integers (only ties and near-ties, a handful of rows).
    """
    lhs = num * ratio.denominator
    rhs = den * ratio.numerator
    with np.errstate(invalid="ignore"):
        result = lhs >= rhs if op == ">=" else lhs <= rhs
        close = np.abs(lhs - rhs) <= 1e-9 * np.maximum(np.abs(lhs), np.abs(rhs))
    if close.any():
        idx = np.flatnonzero(close)
        exact_lhs = num[idx].astype(np.int64).astype(object) * ratio.denominator
        exact_rhs = den[idx].astype(np.int64).astype(object) * ratio.numerator
        exact = exact_lhs >= exact_rhs if op == ">=" else exact_lhs <= exact_rhs
        result[idx] = exact.astype(bool)
    return np.asarray(result, dtype=bool)


def scaled_round(values: np.ndarray, scale: int, rounding: Rounding) -> np.ndarray:
    """`values * scale` rounded towards the verdict, as int64 (values must be finite)."""
    scaled = np.asarray(values, dtype=np.float64) * scale
    # Snap values that are integral up to float noise (0.29 * 100 = 28.999999999999996).
    snapped = np.rint(scaled)
    near = np.abs(scaled - snapped) <= 1e-9 * np.maximum(1.0, np.abs(scaled))
    out = np.where(near, snapped, np.floor(scaled) if rounding == "floor" else np.ceil(scaled))
    return out.astype(np.int64)


def divide_round(num: np.ndarray, den: np.ndarray, scale: int, rounding: Rounding) -> np.ndarray:
    """`num * scale / den` for integral `num`, `den` > 0, rounded towards the verdict (int64)."""
    n = num.astype(np.int64)
    d = den.astype(np.int64)
    if n.size and np.abs(n).max() < (2**62) // max(scale, 1):
        top = n * scale
        return top // d if rounding == "floor" else -((-top) // d)
    return scaled_round(num / den, scale, rounding)  # absurdly large amounts: display only


# --- vectorised number text ---------------------------------------------------------------


def _grouped(digits: pa.Array) -> pa.Array:
    """Thousands separators in integer text: '-1234567' → '-1,234,567'."""
    longest = pc.max(pc.utf8_length(digits)).as_py() or 0
    for _ in range(max(0, (longest - 1) // 3)):
        digits = pc.replace_substring_regex(
            digits, pattern=r"^(-?\d+)(\d{3})", replacement=r"\1,\2"
        )
    return digits


def _unique_then_take(values: np.ndarray, fmt: Callable[[np.ndarray], pa.Array]) -> pa.Array:
    """Format each distinct integer once (percentages, scores and counts repeat a lot)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.int64))
    texts = fmt(np.asarray(uniques, dtype=np.int64))
    return texts if len(uniques) == len(codes) else texts.take(pa.array(codes))


def integer_text(values: np.ndarray) -> pa.Array:
    """Integers with thousands separators: 1234567 → '1,234,567'."""
    return _unique_then_take(values, lambda v: _grouped(pc.cast(pa.array(v), pa.string())))


def fixed_text(scaled: np.ndarray, decimals: int) -> pa.Array:
    """An int64 holding value * 10**decimals, written with `decimals` places: 16500 → '1,650.0'."""
    if decimals == 0:
        return integer_text(scaled)
    unit = 10**decimals

    def fmt(values: np.ndarray) -> pa.Array:
        magnitude = np.abs(values)
        whole = _grouped(pc.cast(pa.array(magnitude // unit), pa.string()))
        frac = pc.utf8_lpad(pc.cast(pa.array(magnitude % unit), pa.string()), decimals, "0")
        text = pc.binary_join_element_wise(whole, frac, ".")
        negative = values < 0
        if negative.any():
            text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
        return text

    return _unique_then_take(scaled, fmt)


def wan_text(fen: np.ndarray, rounding: Rounding) -> pa.Array:
    """Integral fen as 万元 with one decimal, rounded towards the verdict: '1,650.0'."""
    tenths = np.asarray(fen, dtype=np.int64)
    step = FEN_PER_WAN // 10
    scaled = tenths // step if rounding == "floor" else -((-tenths) // step)
    return fixed_text(scaled, 1)


def date_text(dates: np.ndarray) -> pa.Array:
    """datetime64 values as ISO dates; NaT → '日期不详'."""
    days = pa.array(np.asarray(dates, dtype="datetime64[us]")).cast(pa.date32())
    return pc.fill_null(pc.cast(days, pa.string()), "日期不详")


def wan(yuan: float) -> str:
    """A threshold in yuan as 万元 text: 15_000_000 → '1,500'; 12_345_000 → '1,234.5'."""
    value = Fraction(round(yuan * FEN_PER_YUAN), FEN_PER_WAN)
    if value.denominator == 1:
        return f"{int(value):,}"
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")


def percent(ratio: float) -> str:
    """A threshold ratio as percent text: 0.03 → '3%', 0.055 → '5.5%'."""
    value = Fraction(repr(ratio)) * 100
    if value.denominator == 1:
        return f"{int(value)}%"
    return f"{float(value):.4f}".rstrip("0").rstrip(".") + "%"


# --- evidence parts and the text pool -----------------------------------------------------


class Part:
    """A column of text rendered only for the rows that need it.

    `keys(idx)` returns integer arrays that determine the text of each row (None: every row
    may differ). Rows with equal keys share one rendered text, so a figure that repeats
    (a percentage, a date, a count) is formatted and stored once.
    """

    def render(self, idx: np.ndarray) -> pa.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def keys(self, idx: np.ndarray) -> list[np.ndarray] | None:
        return None


def _int_key(values: np.ndarray) -> np.ndarray:
    """Float figures as int64 keys (NaN → a sentinel)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), np.iinfo(np.int64).min, np.nan_to_num(values)).astype(
        np.int64
    )


def _wan_scaled(fen: np.ndarray, rounding: Rounding) -> np.ndarray:
    step = FEN_PER_WAN // 10
    tenths = np.nan_to_num(np.asarray(fen, dtype=np.float64)).astype(np.int64)
    return tenths // step if rounding == "floor" else -((-tenths) // step)


class Wan(Part):
    """An amount in fen shown in 万元 with one decimal; `unit` appended; NaN → 不详."""

    def __init__(self, fen: np.ndarray, rounding: Rounding = "floor", unit: str = "") -> None:
        self.fen, self.rounding, self.unit = fen, rounding, unit

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        fen = self.fen[idx]
        return [np.where(np.isnan(fen), -1, _wan_scaled(fen, self.rounding))]

    def render(self, idx: np.ndarray) -> pa.Array:
        fen = self.fen[idx]
        text = fixed_text(_wan_scaled(fen, self.rounding), 1)
        if self.unit:
            text = pc.binary_join_element_wise(text, self.unit, "")
        return pc.if_else(pa.array(np.isnan(fen)), "不详", text)


class Percent(Part):
    """num / den as a percentage with two decimals (integral num, den > 0)."""

    def __init__(self, num: np.ndarray, den: np.ndarray, rounding: Rounding = "floor") -> None:
        self.num, self.den, self.rounding = num, den, rounding

    def _scaled(self, idx: np.ndarray) -> np.ndarray:
        num, den = self.num[idx], self.den[idx]
        known = ~np.isnan(num) & (den > 0)
        return divide_round(np.where(known, num, 0), np.where(known, den, 1), 10_000, self.rounding)

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [self._scaled(idx)]

    def render(self, idx: np.ndarray) -> pa.Array:
        return fixed_text(self._scaled(idx), 2)


class Fixed(Part):
    """A float shown with `decimals` places, rounded towards the verdict; `unit` appended,
    NaN shown as `missing`."""

    def __init__(
        self,
        values: np.ndarray,
        decimals: int,
        rounding: Rounding = "floor",
        unit: str = "",
        missing: str = "不详",
    ) -> None:
        self.values, self.decimals, self.rounding = values, decimals, rounding
        self.unit, self.missing = unit, missing

    def _scaled(self, idx: np.ndarray) -> np.ndarray:
        return scaled_round(np.nan_to_num(self.values[idx]), 10**self.decimals, self.rounding)

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [self._scaled(idx), np.isnan(self.values[idx]).astype(np.int64)]

    def render(self, idx: np.ndarray) -> pa.Array:
        text = fixed_text(self._scaled(idx), self.decimals)
        if self.unit:
            text = pc.binary_join_element_wise(text, self.unit, "")
        return pc.if_else(pa.array(np.isnan(self.values[idx])), self.missing, text)


class Integer(Part):
    """Integers with thousands separators and `unit` appended (values must be known)."""

    def __init__(self, values: np.ndarray, unit: str = "") -> None:
        self.values, self.unit = values, unit

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [_int_key(self.values[idx])]

    def render(self, idx: np.ndarray) -> pa.Array:
        text = integer_text(np.nan_to_num(np.asarray(self.values[idx], dtype=np.float64)))
        return pc.binary_join_element_wise(text, self.unit, "") if self.unit else text


class Date(Part):
    """ISO date; `year_only` shows only the year."""

    def __init__(self, dates: np.ndarray, year_only: bool = False) -> None:
        self.dates, self.year_only = np.asarray(dates, dtype="datetime64[us]"), year_only

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [self.dates[idx].view(np.int64)]

    def render(self, idx: np.ndarray) -> pa.Array:
        if self.year_only:
            years = pc.cast(pc.year(pa.array(self.dates[idx])), pa.string())
            return pc.fill_null(years, "年份不详")
        return date_text(self.dates[idx])


class Label(Part):
    """A per-firm code (int, -1 = none) shown through a list of labels."""

    def __init__(self, codes: np.ndarray, labels: Sequence[str], missing: str = "（未知）") -> None:
        self.codes, self.labels, self.missing = codes, pa.array([*labels, missing]), len(labels)

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(self.codes[idx], dtype=np.int64)]

    def render(self, idx: np.ndarray) -> pa.Array:
        codes = self.codes[idx]
        return self.labels.take(pa.array(np.where(codes < 0, self.missing, codes)))


class Pick(Part):
    """Text of the record each firm points to (row -1 → `missing`)."""

    def __init__(self, rows: np.ndarray, texts: pa.Array, missing: str = "（未知）") -> None:
        self.rows, self.texts, self.missing = rows, texts, missing

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [self.rows[idx]]

    def render(self, idx: np.ndarray) -> pa.Array:
        rows = self.rows[idx]
        taken = self.texts.take(pa.array(np.where(rows < 0, 0, rows)))
        return pc.if_else(pa.array(rows < 0), self.missing, pc.fill_null(taken, self.missing))


class Via(Part):
    """A per-record part shown through a per-firm row pointer (e.g. an event's date)."""

    def __init__(self, rows: np.ndarray, inner: Part) -> None:
        self.rows, self.inner = rows, inner

    def keys(self, idx: np.ndarray) -> list[np.ndarray] | None:
        return self.inner.keys(self.rows[idx])

    def render(self, idx: np.ndarray) -> pa.Array:
        return self.inner.render(self.rows[idx])


class Prior(Part):
    """The evidence a firm already has (pool codes per firm), to extend it with a caveat."""

    def __init__(self, codes: np.ndarray, pool: TextPool) -> None:
        self.codes, self.pool = codes, pool

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(self.codes[idx], dtype=np.int64)]

    def render(self, idx: np.ndarray) -> pa.Array:
        return self.pool.lookup(self.codes[idx]).cast(pa.string())


class TextPool:
    """Every evidence text of one evaluation.

    Constant texts get codes -1, -2, … (each stored once); texts with figures get codes 0, 1, …
    in the order they were added. `finish()` deduplicates everything into one dictionary and
    `encode` turns pool codes into codes into that dictionary.
    """

    def __init__(self) -> None:
        self._constants: dict[str, int] = {}
        self._chunks: list[pa.Array] = []
        self._size = 0

    def constant(self, text: str) -> int:
        code = self._constants.get(text)
        if code is None:
            code = self._constants[text] = -1 - len(self._constants)
        return code

    def extend(self, texts: pa.Array) -> np.ndarray:
        codes = np.arange(self._size, self._size + len(texts), dtype=np.int32)
        self._chunks.append(texts.cast(pa.large_string()))
        self._size += len(texts)
        return codes

    def lookup(self, codes: np.ndarray) -> pa.Array:
        """The texts of pool codes added so far (to build on a verdict already given)."""
        constants = pa.array(list(self._constants), type=pa.large_string())
        every = pa.chunked_array([constants, *self._chunks], type=pa.large_string())
        codes = np.asarray(codes, dtype=np.int64)
        positions = np.where(codes < 0, -1 - codes, codes + len(constants))
        return every.take(pa.array(positions)).combine_chunks()

    def finish(self) -> tuple[Callable[[np.ndarray], np.ndarray], pa.Array]:
        """(encode, dictionary): pool codes → codes into the distinct texts `dictionary`."""
        constants = pa.array(list(self._constants), type=pa.large_string())
        everything = pa.chunked_array([constants, *self._chunks], type=pa.large_string())
        self._chunks.clear()
        # One hash pass over all chunks; every output chunk shares the final dictionary.
        encoded = pc.dictionary_encode(everything)
        del everything
        remap = np.concatenate([c.indices.to_numpy() for c in encoded.chunks]).astype(np.int32)
        dictionary = encoded.chunks[-1].dictionary
        n_constants = len(constants)

        def encode(codes: np.ndarray) -> np.ndarray:
            return remap[np.where(codes < 0, -1 - codes, codes + n_constants)]

        return encode, dictionary


def _first_of_each(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(group of each row, first row of each group) for rows grouped by equal keys; None when
    every row is its own group."""
    group = np.zeros(len(keys[0]), dtype=np.int64)
    groups = 1
    for key in keys:
        codes, uniques = pd.factorize(key)
        group, found = pd.factorize(group * len(uniques) + codes)
        groups = len(found)
        if groups == len(group):
            return None
    # factorize numbers groups in order of first appearance: a new group raises the running max.
    running = np.maximum.accumulate(group)
    first = np.flatnonzero(np.concatenate(([True], running[1:] > running[:-1])))
    assert first.size == groups
    return group, first


def render(pool: TextPool, idx: np.ndarray, parts: Sequence[str | Part]) -> np.ndarray:
    """Pool codes for the texts made of `parts` at rows `idx`; equal texts are rendered once."""
    if all(isinstance(p, str) for p in parts):
        return np.full(len(idx), pool.constant("".join(parts)), dtype=np.int32)  # type: ignore[arg-type]
    keys: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, Part):
            part_keys = part.keys(idx)
            if part_keys is None:
                keys = []
                break
            keys += part_keys
    grouped = _first_of_each(keys) if keys else None
    if grouped is not None:
        group, first = grouped
        return render(pool, idx[first], parts)[group]
    columns = [p if isinstance(p, str) else p.render(idx) for p in parts]
    return pool.extend(pc.binary_join_element_wise(*columns, ""))


class Verdicts:
    """One criterion's verdicts over all firms, decided by rules applied in order.

    `decide(mask, verdict, *parts)` sets the rows of `mask` not yet decided: the first rule
    that matches a firm decides it.
    """

    def __init__(self, n: int, pool: TextPool, among: np.ndarray | None = None) -> None:
        """`among`: the firms that need a verdict (the others are left `unknown`, no text)."""
        self.verdict = np.full(n, UNDECIDED, dtype=np.int8)
        self.evidence = np.zeros(n, dtype=np.int32)
        # `unknown` because of a doubt about the data (a refused row, a pending match, unaudited
        # accounts): it blocks `eligible` even for a criterion the firm states itself.
        self.doubted = np.zeros(n, dtype=bool)
        self._pool = pool
        if among is not None:
            self.verdict[~among] = UNKNOWN
            self.evidence[~among] = pool.constant("")

    @property
    def undecided(self) -> np.ndarray:
        return self.verdict == UNDECIDED

    def decide(self, mask: np.ndarray, verdict: int, *parts: str | Part) -> None:
        idx = np.flatnonzero(mask & self.undecided)
        if idx.size == 0:
            return
        self.verdict[idx] = verdict
        self.evidence[idx] = render(self._pool, idx, parts)

    def revise(self, mask: np.ndarray, verdict: int, *parts: str | Part) -> None:
        """Overturn decided verdicts of `mask` for a doubt about the data; `Prior(self.evidence,
        …)` among `parts` keeps what the verdict rested on."""
        idx = np.flatnonzero(mask & ~self.undecided)
        if idx.size == 0:
            return
        self.evidence[idx] = render(self._pool, idx, parts)
        self.verdict[idx] = verdict
        self.doubted[idx] = True

    def rest(self, verdict: int, *parts: str | Part) -> Verdicts:
        """Every firm no rule reached gets `verdict` with `parts` as evidence."""
        self.decide(np.ones(self.verdict.size, dtype=bool), verdict, *parts)
        return self

    def done(self, fallback: str) -> Verdicts:
        """Every firm no rule reached is `unknown` with `fallback` as evidence."""
        return self.rest(UNKNOWN, fallback)


def joined_per_group(frame: pd.DataFrame, keys: list[str], column: str, sep: str) -> pd.Series:
    """`frame.groupby(keys, sort=False)[column].agg(sep.join)`, in one pass over the rows
    instead of a Python call per group: each group's texts in row order, groups in order of
    first appearance."""
    grouped = frame.groupby(keys, sort=False)
    if frame.empty:
        return grouped[column].agg(sep.join)  # the types pandas gives an empty result
    number = grouped.ngroup()  # missing for a row with a missing key, which no group holds
    kept = number.notna().to_numpy()
    texts = join_in_groups(
        frame[column].to_numpy(dtype=object)[kept], number.to_numpy()[kept].astype(np.int64), sep
    )
    return pd.Series(texts, index=grouped.size().index, name=column, dtype="str")


def join_in_groups(texts: np.ndarray, group: np.ndarray, sep: str) -> list[str]:
    """Per group number 0..max(group): the `texts` of its rows (`group`: each row's number)
    joined by `sep` in row order; "" for a number without rows."""
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=group.max(initial=-1) + 1)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    values = texts[order]
    return [sep.join(values[a:b]) for a, b in itertools.pairwise(bounds)]


def missing(*tables: str) -> str:
    """The evidence of a verdict that a missing table leaves `unknown`."""
    return "、".join(f"缺少数据表 {table_text(t)}" for t in tables)
