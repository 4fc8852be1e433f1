"""Registered firm names and the ways other tables write them (mention variants).

Written independently of features/names.py and features/matching.py on purpose: the
generator must not share code with the matcher it is used to evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from synth import vocab
from synth.regions import Regions, short_name

VARIANTS = (
    "exact",
    "region_parenthesized",
    "region_dropped",
    "suffix_changed",
    "width_changed",
    "traditional",
    "typo",
    "branch",
    "former_name",
    "nil",
)


@dataclass
class NameParts:
    """The parts of each firm's current registered name (arrays aligned with the firms)."""

    prefix: np.ndarray  # region as written before the trade name: 深圳市 / 广东 / 江阴市
    short: np.ndarray  # region as written in brackets: 深圳
    trade: np.ndarray  # 字号: 华芯
    word: np.ndarray  # industry word: 微电子
    form: np.ndarray  # organisation form: 有限公司
    bracketed: np.ndarray  # bool: registered as 华芯微电子（深圳）有限公司

    def full(self) -> np.ndarray:
        out = np.empty(self.trade.size, dtype=object)
        b = self.bracketed
        p = ~b
        out[p] = _cat(self.prefix[p], self.trade[p], self.word[p], self.form[p])
        out[b] = _cat(self.trade[b], self.word[b], "（", self.short[b], "）", self.form[b])
        return out

    def take(self, index: np.ndarray) -> NameParts:
        return NameParts(*(getattr(self, f)[index] for f in _FIELDS))

    def copy(self) -> NameParts:
        return NameParts(*(getattr(self, f).copy() for f in _FIELDS))


_FIELDS = ("prefix", "short", "trade", "word", "form", "bracketed")


def _cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise string concatenation of object arrays (and plain strings)."""
    out: np.ndarray | None = None
    for part in parts:
        if out is None:
            out = np.asarray(part, dtype=object).copy()
        else:
            out = out + (part if isinstance(part, str) else np.asarray(part, dtype=object))
    assert out is not None
    return out


def trade_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Trade names: mostly two characters from the pool, some three, some real ones."""
    chars = np.array(list(vocab.TRADE_CHARS), dtype=object)
    real = np.array(vocab.real_trade_names(), dtype=object)
    first = chars[rng.integers(0, chars.size, n)]
    second = chars[rng.integers(0, chars.size, n)]
    third = chars[rng.integers(0, chars.size, n)]
    kind = rng.random(n)
    names = np.where(kind < 0.85, first + second, first + second + third)
    use_real = kind >= 0.93
    names[use_real] = real[rng.integers(0, real.size, int(use_real.sum()))]
    return names


def region_parts(
    region_codes: np.ndarray, regions: Regions, rng: np.random.Generator, province_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """The region prefix and bracket form for firms registered in the given districts."""
    table = regions.districts.set_index("code")
    city = table.loc[region_codes, "city_name"].to_numpy(dtype=object)
    district = table.loc[region_codes, "name"].to_numpy(dtype=object)
    province = table.loc[region_codes, "province_name"].to_numpy(dtype=object)
    county_city = pd.Series(district).str.endswith(("市", "县")).to_numpy()
    prefix = np.where(county_city, district, city)
    by_province = rng.random(region_codes.size) < province_share
    province_short = _short_names(province)
    prefix = np.where(by_province, province_short, prefix).astype(object)
    return prefix, _short_names(prefix)


def _short_names(values: np.ndarray) -> np.ndarray:
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([short_name(u) for u in uniques], dtype=object)[inverse]


def dedupe_names(parts: NameParts, rng: np.random.Generator) -> NameParts:
    """Give every firm a distinct registered name (a registry refuses duplicates)."""
    chars = np.array(list(vocab.TRADE_CHARS), dtype=object)
    for _ in range(50):
        full = pd.Series(parts.full())
        duplicated = full.duplicated(keep="first").to_numpy()
        if not duplicated.any():
            return parts
        extra = chars[rng.integers(0, chars.size, int(duplicated.sum()))]
        parts.trade[duplicated] = parts.trade[duplicated] + extra
    raise RuntimeError("could not make registered names distinct")


@lru_cache(maxsize=1)
def _traditional_table() -> dict[int, str]:
    """Simplified → traditional, character by character, for every character names use."""
    import opencc  # imported lazily: only the `traditional` variant needs it

    converter = opencc.OpenCC("s2t")
    words = pd.read_csv(vocab.DATA_DIR / "industries.csv", dtype=str)["words"].str.cat(sep="")
    alphabet = set(vocab.TRADE_CHARS + "".join(vocab.real_trade_names()) + words)
    alphabet |= set("".join(vocab.FORMS) + "分公司省市区县自治州盟旗")
    from synth.regions import ADMIN_DIVISIONS

    alphabet |= set(pd.read_csv(ADMIN_DIVISIONS, dtype=str)["name"].str.cat(sep=""))
    table = {}
    for char in sorted(alphabet):
        converted = converter.convert(char)
        if converted != char and len(converted) == 1:
            table[ord(char)] = converted
    return table


def _typo(names: np.ndarray, lengths: np.ndarray, starts: np.ndarray, rng: np.random.Generator):
    """Replace one character inside [start, start+length) by a look-alike or homophone."""
    pool = vocab.TRADE_CHARS
    positions = starts + (rng.random(names.size) * lengths).astype(np.int64)
    picks = rng.integers(0, len(pool), names.size)
    out = np.empty(names.size, dtype=object)
    for i, (name, pos) in enumerate(zip(names, positions, strict=True)):
        char = name[pos]
        replacement = vocab.TYPO_PAIRS.get(char)
        if replacement is None:
            replacement = pool[picks[i]]
            if replacement == char:
                replacement = pool[(picks[i] + 1) % len(pool)]
        out[i] = name[:pos] + replacement + name[pos + 1 :]
    return out


def render_variants(
    parts: NameParts,
    variants: np.ndarray,
    branch_places: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The mention text of each firm name (parts aligned with `variants`)."""
    names = parts.full()
    out = names.copy()

    def sub(variant: str) -> tuple[np.ndarray, NameParts]:
        mask = variants == variant
        return mask, parts.take(np.flatnonzero(mask))

    mask, p = sub("region_parenthesized")
    if mask.any():
        out[mask] = np.where(
            p.bracketed,
            _cat(p.short, p.trade, p.word, p.form),
            _cat(p.trade, p.word, "（", p.short, "）", p.form),
        )
    mask, p = sub("region_dropped")
    if mask.any():
        out[mask] = _cat(p.trade, p.word, p.form)

    mask, p = sub("suffix_changed")
    if mask.any():
        alternatives = np.array([*vocab.FORMS, "公司"], dtype=object)
        pick = alternatives[rng.integers(0, alternatives.size, p.form.size)]
        pick = np.where(pick == p.form, "公司", pick)
        out[mask] = NameParts(p.prefix, p.short, p.trade, p.word, pick, p.bracketed).full()

    mask, p = sub("width_changed")
    if mask.any():
        out[mask] = _cat(p.trade, p.word, "(", p.short, ")", p.form)

    mask = variants == "traditional"
    if mask.any():
        table = _traditional_table()
        out[mask] = [name.translate(table) for name in names[mask]]

    mask, p = sub("typo")
    if mask.any():
        prefix_length = np.array([len(x) for x in p.prefix], dtype=np.int64)
        trade_start = np.where(p.bracketed, 0, prefix_length)
        span = np.array([len(t) + len(w) for t, w in zip(p.trade, p.word, strict=True)])
        out[mask] = _typo(names[mask], span, trade_start, rng)

    mask = variants == "branch"
    if mask.any():
        out[mask] = _cat(names[mask], branch_places[mask], "分公司")
    return out


def branch_place(district_names: np.ndarray) -> np.ndarray:
    """南山区 → 南山, 江阴市 → 江阴 (as in …南山分公司)."""
    uniques, inverse = np.unique(np.asarray(district_names).astype(str), return_inverse=True)
    places = [short_name(d) if len(d) > 2 else d for d in uniques]
    return np.array(places, dtype=object)[inverse]
