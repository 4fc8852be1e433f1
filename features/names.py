"""The one firm-name normaliser: raw Chinese enterprise name → comparable parts.

A registered name reads 行政区划 + 字号 + 行业 + 组织形式 (企业名称登记管理规定), possibly followed
by a branch part (…分公司). `normalize_names` cleans the text (NFKC, full/half width,
traditional → simplified, whitespace and punctuation), then peels off, in order, the branch
suffix, parenthesised parts, the organisation form, and leading or trailing administrative
regions, leaving the trade-name *core* (字号 + 行业). What was removed is returned beside the core
so that the matcher can compare region, form and branch separately.

Explicit vocabulary decisions:
- 集团 is NOT an organisation form: "X集团有限公司" and "X有限公司" are usually two registrants
  (the group and an operating subsidiary), so 集团 stays in the core.
- 有限责任公司 and 有限公司 are the same form (the latter is the short legal form); 股份有限公司 is
  a different one. Forms are reported in canonical spelling (`FORM_CANONICAL`).
- Only regions written with their suffix (天河区, 平和县) are stripped at district level; short
  forms (广州, 昆山) are stripped for provinces, prefecture-level and county-level cities only,
  because bare district/county names (朝阳, 平和, 新华) are common trade names.
- A region is never stripped when it would leave a core under `MIN_CORE_LENGTH` characters.

All work runs on the distinct names with Arrow compute kernels, so a million names take seconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import opencc
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.sources import arrow_text

ADMIN_DIVISIONS_CSV = Path(__file__).resolve().parent / "data" / "admin_divisions.csv"

MIN_CORE_LENGTH = 2
"""A region or form is only removed when at least this many characters of core remain."""

# Organisation forms (组织形式), raw spelling → canonical spelling. Longest spellings win because
# the form regex takes the earliest start position that reaches the end of the name.
FORM_CANONICAL: dict[str, str] = {
    "股份有限公司": "股份有限公司",
    "股份公司": "股份有限公司",
    "有限责任公司": "有限公司",
    "有限公司": "有限公司",
    "股份合作公司": "股份合作公司",
    "总公司": "公司",
    "公司": "公司",
    "普通合伙企业": "合伙企业",
    "有限合伙企业": "合伙企业",
    "合伙企业": "合伙企业",
    "特殊普通合伙": "合伙企业",
    "普通合伙": "合伙企业",
    "有限合伙": "合伙企业",
    "个人独资企业": "独资企业",
    "独资企业": "独资企业",
    "株式会社": "株式会社",
    "COMPANYLIMITED": "LIMITED",
    "COLTD": "LIMITED",
    "CORPLTD": "LIMITED",
    "LIMITED": "LIMITED",
    "LTD": "LIMITED",
    "INCORPORATED": "INC",
    "INC": "INC",
    "CORPORATION": "CORP",
    "CORP": "CORP",
    "GMBH": "GMBH",
    "LLC": "LLC",
}

# Branch markers (分支机构): the part after the parent's name, e.g. 合肥分公司.
BRANCH_MARKERS = (
    "分公司",
    "分厂",
    "分店",
    "分部",
    "分所",
    "分社",
    "分中心",
    "分院",
    "分行",
    "支行",
    "办事处",
    "营业部",
    "经营部",
    "服务部",
)
# Words a parent name ends with, so that "X有限公司合肥分公司" splits after 有限公司.
_PARENT_ENDINGS = ("公司", "厂", "集团", "企业", "商行", "中心", "社", "店", "院", "所", r"\)")

# 行业 words (GB/T 4754 vernacular) that end a core, used to split 字号 from 行业; the last
# ones are business-type words that may close a core (商行, 经营部, …).
INDUSTRY_WORDS = (
    "科技",
    "技术",
    "信息",
    "网络",
    "电子",
    "电器",
    "电气",
    "电力",
    "能源",
    "新能源",
    "环保",
    "环境",
    "生物",
    "医药",
    "医疗",
    "健康",
    "制药",
    "化工",
    "化学",
    "材料",
    "新材料",
    "塑胶",
    "塑料",
    "橡胶",
    "机械",
    "设备",
    "机电",
    "仪器",
    "仪表",
    "自动化",
    "智能",
    "精密",
    "工业",
    "制造",
    "实业",
    "汽车",
    "汽配",
    "配件",
    "五金",
    "钢铁",
    "金属",
    "有色",
    "建材",
    "建筑",
    "建设",
    "工程",
    "装饰",
    "装修",
    "设计",
    "园林",
    "景观",
    "绿化",
    "房地产",
    "置业",
    "地产",
    "物业",
    "开发",
    "投资",
    "资产",
    "金融",
    "控股",
    "管理",
    "咨询",
    "服务",
    "商务",
    "商贸",
    "贸易",
    "经贸",
    "进出口",
    "国际",
    "物流",
    "运输",
    "货运",
    "供应链",
    "文化",
    "传媒",
    "传播",
    "广告",
    "教育",
    "培训",
    "旅游",
    "餐饮",
    "酒店",
    "食品",
    "农业",
    "林业",
    "牧业",
    "渔业",
    "生态",
    "纺织",
    "服装",
    "服饰",
    "家居",
    "家具",
    "日化",
    "用品",
    "制品",
    "包装",
    "印刷",
    "软件",
    "数据",
    "通信",
    "通讯",
    "光电",
    "半导体",
    "集成电路",
    "微电子",
    "新型",
    "高新",
    "创新",
    "发展",
    "营销",
    "策划",
    "电子商务",
    "互联网",
    "集团",
    "企业",
    "劳务",
    "人力资源",
    "安装",
    "防水",
    "销售",
    "经营",
    "产业",
    "工艺",
    "礼品",
    "艺术",
    "影视",
    "体育",
    "商行",
    "商店",
    "经营部",
    "门市部",
    "工作室",
    "中心",
    "厂",
    "店",
    "馆",
)

_ETHNIC_SUFFIXES = (
    "朝鲜族",
    "土家族",
    "苗族",
    "藏族",
    "羌族",
    "彝族",
    "布依族",
    "侗族",
    "哈尼族",
    "壮族",
    "傣族",
    "白族",
    "景颇族",
    "傈僳族",
    "回族",
    "蒙古族",
    "蒙古",
    "柯尔克孜",
    "哈萨克",
    "仡佬族",
    "瑶族",
    "满族",
    "土族",
    "撒拉族",
    "畲族",
    "黎族",
    "水族",
    "毛南族",
    "仫佬族",
    "纳西族",
    "普米族",
    "拉祜族",
    "佤族",
    "独龙族",
    "怒族",
    "各族",
    "达斡尔族",
    "鄂温克族",
    "锡伯族",
    "保安族",
    "东乡族",
    "裕固族",
    "维吾尔",
)
_ADMIN_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "省", "市", "盟")
# Parenthesised words that are no region but are no part of the trade name either.
_NATIONAL_WORDS = frozenset({"中国", "中华", "中国区", "亚太", "上海自贸区", "自贸区"})

_opencc_t2s = opencc.OpenCC("t2s")


@dataclass(frozen=True)
class RegionVocabulary:
    """Administrative names (full and short) with the division codes they can denote.

    Codes are *significant prefixes*: province `44`, prefecture `4401`, district `440106`, so
    that "is A inside B" is a prefix test.
    """

    codes_by_token: dict[str, tuple[str, ...]]
    leading: frozenset[str]
    trailing: frozenset[str]
    name_by_code: dict[str, str]


def significant_code(code: str) -> str:
    """`440100` → `4401`, `440000` → `44`, `440106` → `440106`."""
    code = code.strip()
    if len(code) == 6 and code.endswith("0000"):
        return code[:2]
    if len(code) == 6 and code.endswith("00"):
        return code[:4]
    return code


def _short_forms(name: str) -> set[str]:
    """Short spellings of a province, prefecture or county-level city (广西壮族自治区 → 广西)."""
    shorts = set()
    for suffix in _ADMIN_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            changed = True
            while changed:
                changed = False
                for ethnic in _ETHNIC_SUFFIXES:
                    if stem.endswith(ethnic) and len(stem) - len(ethnic) >= 2:
                        stem = stem[: -len(ethnic)]
                        changed = True
            if len(stem) >= 2:
                shorts.add(stem)
            break
    return shorts


@cache
def region_vocabulary() -> RegionVocabulary:
    """Load `features/data/admin_divisions.csv` once."""
    table = pd.read_csv(ADMIN_DIVISIONS_CSV, dtype=str)
    codes: dict[str, set[str]] = {}
    leading: set[str] = set()
    trailing: set[str] = set()
    name_by_code: dict[str, str] = {}
    for code, name, level in table[["code", "name", "level"]].itertuples(index=False):
        sig = significant_code(code)
        name_by_code[sig] = name
        shorts = _short_forms(name)
        if level == "district" and not name.endswith("市"):
            shorts = set()  # bare county/district names are too often trade names
        for token in {name, *shorts}:
            codes.setdefault(token, set()).add(sig)
        if len(name) > 2 or level != "district" or not name.endswith("区"):
            leading.add(name)  # not 城区, 矿区, 郊区: words, not places, at the head of a name
        leading.update(shorts)
        if level in ("province", "city"):
            trailing.add(name)
            trailing.update(shorts)
    return RegionVocabulary(
        codes_by_token={token: tuple(sorted(c)) for token, c in codes.items()},
        leading=frozenset(leading),
        trailing=frozenset(trailing),
        name_by_code=name_by_code,
    )


def _compatible(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


@cache
def resolve_region_tokens(tokens: str) -> str | None:
    """Most specific division code consistent with the region words of one name ("|"-joined).

    Each word narrows the candidates of the previous ones (广州 + 天河区 → 440106); a word that
    fits none of them is ignored; several remaining candidates collapse to their common prefix
    (at a province/prefecture boundary), or to nothing.
    """
    vocabulary = region_vocabulary()
    candidates: list[str] | None = None
    for token in tokens.split("|"):
        options = vocabulary.codes_by_token.get(token)
        if not options:
            continue
        if candidates is None:
            candidates = list(options)
            continue
        narrowed = [o for o in options if any(_compatible(o, c) for c in candidates)]
        if narrowed:
            finer = [o for o in narrowed if not any(len(c) > len(o) for c in candidates)]
            keep = [c for c in candidates if any(_compatible(c, o) for o in narrowed)]
            candidates = finer or keep
    if not candidates:
        return None
    if len(set(candidates)) == 1:
        return candidates[0]
    prefix = _common_prefix(candidates)
    for width in (4, 2):
        if len(prefix) >= width:
            return prefix[:width]
    return None


def _common_prefix(values: Sequence[str]) -> str:
    first, last = min(values), max(values)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def region_levels(codes: pd.Series | Sequence[str | None]) -> np.ndarray:
    """(n, 3) ints: province, prefecture, district of significant codes (-1 = unspecified)."""
    series = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype="str")
    labels, uniques = pd.factorize(series.astype("str"))
    table = np.full((len(uniques) + 1, 3), -1, dtype=np.int64)  # last row: missing
    for position, code in enumerate(uniques):
        text = str(code)
        for level, width in enumerate((2, 4, 6)):
            if len(text) >= width and text[:width].isdigit():
                table[position, level] = int(text[:width])
    return table[labels]


def region_depth(levels: np.ndarray) -> np.ndarray:
    """How many levels (0 to 3) each code specifies."""
    return (levels >= 0).sum(axis=1)


def regions_compatible(
    a: pd.Series | np.ndarray | Sequence[str | None],
    b: pd.Series | np.ndarray | Sequence[str | None],
) -> np.ndarray:
    """Element-wise: code a lies inside b or b inside a (False where either is missing).

    Takes significant codes, or their `region_levels`.
    """
    x = a if isinstance(a, np.ndarray) else region_levels(a)
    y = b if isinstance(b, np.ndarray) else region_levels(b)
    return (
        (x[:, 0] >= 0)
        & (x[:, 0] == y[:, 0])
        & ((x[:, 1] < 0) | (y[:, 1] < 0) | (x[:, 1] == y[:, 1]))
        & ((x[:, 2] < 0) | (y[:, 2] < 0) | (x[:, 2] == y[:, 2]))
    )


# ---------------------------------------------------------------------------------------------
# Vectorised normalisation


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_BRANCH_TAIL_RE = rf"(?:{_alternation(BRANCH_MARKERS)})\)?$"
_BRANCH_RE = (
    rf"^(?P<parent>.*(?:{'|'.join(_PARENT_ENDINGS)}))"
    rf"(?P<branch>\(?[^()]{{0,15}}?(?:{_alternation(BRANCH_MARKERS)})\)?)$"
)
_BRANCH_BARE_RE = rf"^(?P<parent>.{{2,}}?)(?P<branch>{_alternation(BRANCH_MARKERS)})$"
_PAREN_RE = r"^(?P<pre>[^()]*)\((?P<inner>[^()]*)\)(?P<post>.*)$"


@dataclass(frozen=True)
class _Affixes:
    """Words to peel off one end of a string, longest first, walked like a trie."""

    tokens_by_length: dict[int, pa.Array]
    stems_by_length: dict[int, pa.Array]
    max_length: int
    from_end: bool


def _affixes(words: Iterable[str], from_end: bool) -> _Affixes:
    words = set(words)
    tokens: dict[int, set[str]] = {}
    stems: dict[int, set[str]] = {}
    for word in words:
        tokens.setdefault(len(word), set()).add(word)
        for k in range(1, len(word)):
            stems.setdefault(k, set()).add(word[-k:] if from_end else word[:k])
    return _Affixes(
        tokens_by_length={k: pa.array(sorted(v), pa.string()) for k, v in tokens.items()},
        stems_by_length={k: pa.array(sorted(v), pa.string()) for k, v in stems.items()},
        max_length=max(len(w) for w in words),
        from_end=from_end,
    )


@cache
def _leading_regions() -> _Affixes:
    return _affixes(region_vocabulary().leading, from_end=False)


@cache
def _trailing_regions() -> _Affixes:
    return _affixes(region_vocabulary().trailing, from_end=True)


@cache
def _forms() -> _Affixes:
    return _affixes(FORM_CANONICAL, from_end=True)


@cache
def _industry_words() -> _Affixes:
    return _affixes(INDUSTRY_WORDS, from_end=True)


def _longest_affix(body: pa.Array, affixes: _Affixes, min_rest: int) -> np.ndarray:
    """Length of the longest affix word at the start (end) of each string leaving `min_rest`."""
    cut = np.zeros(len(body), dtype=np.int64)
    rows = np.arange(len(body))
    sub = body
    sub_length = pc.utf8_length(body).to_numpy(zero_copy_only=False)
    for length in range(1, affixes.max_length + 1):
        piece = (
            pc.utf8_slice_codeunits(sub, -length)
            if affixes.from_end
            else pc.utf8_slice_codeunits(sub, 0, length)
        )
        tokens = affixes.tokens_by_length.get(length)
        if tokens is not None:
            hit = pc.is_in(piece, value_set=tokens).to_numpy(zero_copy_only=False)
            hit &= sub_length >= length + min_rest
            cut[rows[hit]] = length
        stems = affixes.stems_by_length.get(length)
        if stems is None:
            break
        extend = pc.is_in(piece, value_set=stems).to_numpy(zero_copy_only=False)
        extend &= sub_length > length
        if not extend.any():
            break
        keep = np.nonzero(extend)[0]
        rows, sub, sub_length = rows[keep], sub.take(pa.array(keep)), sub_length[keep]
    return cut


def _split_at(body: pa.Array, cut: np.ndarray, from_end: bool) -> tuple[pa.Array, pa.Array]:
    """Per row, (the `cut` characters at the start/end, the rest); piece is null where cut = 0."""
    pieces: list[pa.Array] = []
    rests: list[pa.Array] = []
    order: list[np.ndarray] = []
    for length in np.unique(cut):
        rows = np.nonzero(cut == length)[0]
        sub = body.take(pa.array(rows))
        if length == 0:
            pieces.append(pa.nulls(len(rows), pa.string()))
            rests.append(sub)
        elif from_end:
            pieces.append(pc.utf8_slice_codeunits(sub, -int(length)))
            rests.append(pc.utf8_slice_codeunits(sub, 0, -int(length)))
        else:
            pieces.append(pc.utf8_slice_codeunits(sub, 0, int(length)))
            rests.append(pc.utf8_slice_codeunits(sub, int(length)))
        order.append(rows)
    if not order:
        return pa.nulls(0, pa.string()), body
    inverse = np.empty(len(body), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(body))
    index = pa.array(inverse)
    piece = pa.concat_arrays([p.cast(pa.string()) for p in pieces]).take(index)
    rest = pa.concat_arrays([r.cast(pa.string()) for r in rests]).take(index)
    return piece, rest


def _strip(
    body: pa.Array, affixes: _Affixes, rounds: int, min_rest: int = MIN_CORE_LENGTH
) -> tuple[pa.Array, list[pa.Array]]:
    """Peel up to `rounds` affix words off each string; returns the rest and each round's word."""
    removed: list[pa.Array] = []
    active = np.ones(len(body), dtype=bool)
    for _ in range(rounds):
        cut = _longest_affix(body, affixes, min_rest)
        cut[~active] = 0
        if not cut.any():
            break
        piece, body = _split_at(body, cut, affixes.from_end)
        removed.append(piece)
        active = cut > 0
    return body, removed


@cache
def _traditional_pattern() -> str:
    """A character class of every CJK character that OpenCC t2s changes on its own."""
    chars = [chr(c) for c in range(0x3400, 0xA000)] + [chr(c) for c in range(0xF900, 0xFB00)]
    converted = _opencc_t2s.convert("\n".join(chars)).split("\n")
    changed = [a for a, b in zip(chars, converted, strict=True) if a != b]
    return "[" + "".join(re.escape(c) for c in changed) + "]"


def _t2s(values: pa.Array) -> pa.Array:
    """Traditional → simplified, only for names holding a traditional character; one OpenCC
    call for all of them (names hold no newline by now)."""
    has_traditional = pc.match_substring_regex(values, _traditional_pattern())
    rows = np.nonzero(has_traditional.to_numpy(zero_copy_only=False))[0]
    if not len(rows):
        return values
    texts = values.take(pa.array(rows)).to_pylist()
    converted = _opencc_t2s.convert("\n".join(texts)).split("\n")
    if len(converted) != len(texts):  # pragma: no cover - defensive: fall back to one by one
        converted = [_opencc_t2s.convert(t) for t in texts]
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array(converted, pa.string()))


def _extract_some(text: pa.Array, mask: np.ndarray, pattern: str, fields: Sequence[str]) -> dict:
    """`extract_regex` run only on the rows in `mask`; fields come back full length (null = no)."""
    rows = np.nonzero(mask)[0]
    struct = pc.extract_regex(text.take(pa.array(rows)), pattern)
    matched = rows[pc.is_valid(struct).to_numpy(zero_copy_only=False)]
    struct = struct.filter(pc.is_valid(struct))
    result: dict[str, pa.Array] = {}
    full_mask = np.zeros(len(text), dtype=bool)
    full_mask[matched] = True
    for name in fields:
        values = pc.struct_field(struct, name)
        result[name] = pc.replace_with_mask(
            pa.nulls(len(text), pa.string()), pa.array(full_mask), values
        )
    result["matched"] = full_mask
    return result


def _map_distinct(values: pa.Array, function: Callable[[str], str | None]) -> pa.Array:
    """Apply a Python function once per distinct non-null value."""
    distinct = pc.unique(values.drop_null())
    mapped = pa.array([function(v) for v in distinct.to_pylist()], pa.string())
    return mapped.take(pc.index_in(values, value_set=distinct))


def _join_present(columns: Sequence[pa.Array], separator: str) -> pa.Array:
    """Row-wise join of the non-null strings; null where all are null."""
    filled = [pc.fill_null(column, "") for column in columns]
    joined = pc.binary_join_element_wise(*filled, "\x00")
    joined = pc.replace_substring_regex(joined, "\x00+", "\x00")
    joined = pc.utf8_trim(joined, "\x00")
    joined = pc.replace_substring(joined, "\x00", separator)
    return pc.if_else(pc.equal(joined, ""), pa.nulls(len(joined), pa.string()), joined)


@cache
def region_words(text: str) -> str | None:
    """`text` cut into administrative names ("|"-joined), if it consists of nothing else."""
    vocabulary = region_vocabulary().codes_by_token
    words = []
    rest = text
    while rest:
        for length in range(min(len(rest), 12), 1, -1):
            if rest[:length] in vocabulary:
                words.append(rest[:length])
                rest = rest[length:]
                break
        else:
            return None
    return "|".join(words) if words else None


def _classify_paren(inner: str) -> str:
    if inner in _NATIONAL_WORDS:
        return "drop"
    if region_words(inner):
        return "region"
    if inner in FORM_CANONICAL:
        return "form"
    return "keep"


NAME_PART_COLUMNS = (
    "clean",
    "parent",
    "core",
    "trade_name",
    "industry",
    "form",
    "regions",
    "region_code",
    "is_branch",
    "branch",
)


def _normalize_distinct(raw: pa.Array) -> pd.DataFrame:
    n = len(raw)
    nulls = pa.nulls(n, pa.string())
    text = pc.utf8_normalize(raw, "NFKC")
    text = pc.replace_substring_regex(text, r"\s+", "")
    text = pc.utf8_upper(_t2s(text))
    text = pc.replace_substring_regex(text, r"[\[【〔{<《〈「『]", "(")
    text = pc.replace_substring_regex(text, r"[\]】〕}>》〉」』]", ")")
    text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}()]", "")
    clean = pc.replace_substring_regex(text, r"[()]", "")

    # Branch: "X有限公司合肥分公司" → parent "X有限公司", branch "合肥分公司".
    maybe_branch = pc.match_substring_regex(text, _BRANCH_TAIL_RE).to_numpy(zero_copy_only=False)
    branch_parts = _extract_some(text, maybe_branch, _BRANCH_RE, ("parent", "branch"))
    bare_parts = _extract_some(
        text, maybe_branch & ~branch_parts["matched"], _BRANCH_BARE_RE, ("parent", "branch")
    )
    is_branch = branch_parts["matched"] | bare_parts["matched"]
    branch = pc.coalesce(branch_parts["branch"], bare_parts["branch"])
    body = pc.coalesce(branch_parts["parent"], bare_parts["parent"], text)
    parent = pc.replace_substring_regex(body, r"[()]", "")

    # Parentheses: regions and forms leave, other words stay (without the brackets).
    paren_region: pa.Array = nulls
    paren_form: pa.Array = nulls
    for _ in range(2):
        has_paren = pc.match_substring(body, "(").to_numpy(zero_copy_only=False)
        if not has_paren.any():
            break
        parts = _extract_some(body, has_paren, _PAREN_RE, ("pre", "inner", "post"))
        if not parts["matched"].any():
            break
        kind = _map_distinct(parts["inner"], _classify_paren)
        paren_region = pc.coalesce(
            paren_region,
            pc.if_else(
                pc.equal(kind, "region"), _map_distinct(parts["inner"], region_words), nulls
            ),
        )
        paren_form = pc.coalesce(
            paren_form, pc.if_else(pc.equal(kind, "form"), parts["inner"], nulls)
        )
        middle = pc.if_else(pc.equal(kind, "keep"), parts["inner"], "")
        joined = pc.binary_join_element_wise(parts["pre"], middle, parts["post"], "")
        body = pc.coalesce(joined, body)
    body = pc.replace_substring_regex(body, r"[()]", "")

    # Organisation form at the end, then regions: leading (province, prefecture, district) and
    # one trailing ("新月能源石家庄公司").
    body, forms = _strip(body, _forms(), rounds=1)
    form_raw = forms[0] if forms else nulls
    body, leading = _strip(body, _leading_regions(), rounds=3)
    body, trailing = _strip(body, _trailing_regions(), rounds=1)

    removed_regions = [*leading, paren_region, *trailing]
    regions = _join_present(removed_regions, "|")
    region_code = _map_distinct(regions, resolve_region_tokens)

    trade, industry_words = _strip(body, _industry_words(), rounds=4)
    industry = _join_present(industry_words[::-1], "") if industry_words else nulls

    form = _map_distinct(pc.coalesce(form_raw, paren_form), FORM_CANONICAL.get)
    return pd.DataFrame(
        {
            "clean": pd.array(clean, dtype="str"),
            "parent": pd.array(parent, dtype="str"),
            "core": pd.array(body, dtype="str"),
            "trade_name": pd.array(trade, dtype="str"),
            "industry": pd.array(industry, dtype="str"),
            "form": pd.array(form, dtype="str"),
            "regions": pd.array(regions, dtype="str"),
            "region_code": pd.array(region_code, dtype="str"),
            "is_branch": is_branch,
            "branch": pd.array(branch, dtype="str"),
        }
    )


PARALLEL_CHUNK = 200_000
"""Distinct names per thread: Arrow kernels release the GIL, so chunks overlap on cores."""


def normalize_names(names: pd.Series | Sequence[str | None]) -> pd.DataFrame:
    """Normalise firm names; one row per input (same index), computed once per distinct name.

    Columns: `name` (input), `clean` (whole name, cleaned), `parent` (cleaned name without the
    branch part; = clean unless a branch), `core` (字号 + 行业, without region, form and
    branch), `trade_name` (core without trailing 行业 words), `industry`, `form` (canonical),
    `regions` (removed region words, "|"-joined), `region_code` (significant division code they
    denote), `is_branch`, `branch` (removed branch part). Missing names give missing parts and
    `is_branch` False.
    """
    series = names if isinstance(names, pd.Series) else pd.Series(list(names), dtype="str")
    series = series.astype("str")
    position, distinct = pd.factorize(series)
    raw = arrow_text(pd.Series(distinct)).combine_chunks().cast(pa.string())
    if len(raw) > PARALLEL_CHUNK:
        chunks = [raw.slice(i, PARALLEL_CHUNK) for i in range(0, len(raw), PARALLEL_CHUNK)]
        region_vocabulary(), _traditional_pattern()  # build the caches before the threads
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            parts = pd.concat(list(pool.map(_normalize_distinct, chunks)), ignore_index=True)
    elif len(raw):
        parts = _normalize_distinct(raw)
    else:
        parts = pd.DataFrame({c: pd.array([], dtype="str") for c in NAME_PART_COLUMNS})
        parts["is_branch"] = np.array([], dtype=bool)
    found = position >= 0
    result = parts.take(np.where(found, position, 0)).reset_index(drop=True)
    if not found.all():
        for column in NAME_PART_COLUMNS:
            result.loc[~found, column] = False if column == "is_branch" else pd.NA
    result.insert(0, "name", series.array)
    result.index = series.index
    result["is_branch"] = result["is_branch"].astype(bool)
    return result


@dataclass(frozen=True)
class NameParts:
    """The parts of one normalised name (see `normalize_names`)."""

    name: str
    clean: str
    parent: str
    core: str
    trade_name: str
    industry: str | None
    form: str | None
    regions: tuple[str, ...]
    region_code: str | None
    is_branch: bool
    branch: str | None


def normalize_name(name: str) -> NameParts:
    """Normalise one name (convenience over `normalize_names`)."""
    row = normalize_names(pd.Series([name], dtype="str")).iloc[0]

    def text(value: object) -> str | None:
        return None if pd.isna(value) else str(value)  # type: ignore[call-overload]

    regions = text(row["regions"])
    return NameParts(
        name=name,
        clean=str(row["clean"]),
        parent=str(row["parent"]),
        core=str(row["core"]),
        trade_name=str(row["trade_name"]),
        industry=text(row["industry"]),
        form=text(row["form"]),
        regions=tuple(regions.split("|")) if regions else (),
        region_code=text(row["region_code"]),
        is_branch=bool(row["is_branch"]),
        branch=text(row["branch"]),
    )
