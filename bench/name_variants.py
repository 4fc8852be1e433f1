"""Variant maker for evaluating entity matching ONLY (never used by the pipeline).

Builds a firm registry from real company names (../shared/data/company-names, Apache-2.0) or
from synthetic names combined from character pools, adds look-alike decoys (the same trade name
in another city or industry) and former names, then writes mentions of those firms in the ways
they are written in the wild, with the ground truth:

variant               how the mention is written                          true firm
exact                 the registered name                                  the firm
code                  any name, with the firm's credit code in the row     the firm
region_parenthesized  柳州国联运输有限公司 → 国联运输(柳州)有限公司            the firm
region_dropped        → 国联运输有限公司 (no other firm shares the core)      the firm
suffix_changed        有限公司 ↔ 有限责任公司 / 股份有限公司 / 公司             the firm
width_changed         full-width ASCII, brackets and spaces                  the firm
traditional           simplified → traditional (OpenCC s2t)                 the firm
typo                  one character of the trade name replaced               the firm
former_name           a name from name_history                              the firm
branch                + 合肥分公司                                          the firm
ambiguous             region dropped where a decoy shares the core         the firm (review ok)
lookalike             same core, another city, firm not in the registry     NIL
nil                   universities, institutes, foreign and unregistered    NIL
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opencc
import pandas as pd

from features.names import FORM_CANONICAL, region_vocabulary
from features.schemas import credit_code_is_valid, with_check_character
from features.sources import SourceData

COMPANY_NAMES = Path("/work/shared/data/company-names")

VARIANT_WEIGHTS: dict[str, float] = {
    "exact": 0.12,
    "code": 0.04,
    "region_parenthesized": 0.08,
    "region_dropped": 0.07,
    "suffix_changed": 0.08,
    "width_changed": 0.07,
    "traditional": 0.07,
    "typo": 0.12,
    "former_name": 0.06,
    "branch": 0.06,
    "ambiguous": 0.04,
    "lookalike": 0.05,
    "nil": 0.14,
}

_INDUSTRIES = (
    "科技",
    "信息技术",
    "网络科技",
    "电子",
    "电子科技",
    "商贸",
    "贸易",
    "国际贸易",
    "机械",
    "机械设备",
    "建筑工程",
    "建设",
    "装饰工程",
    "园林景观",
    "房地产开发",
    "投资管理",
    "企业管理咨询",
    "文化传媒",
    "教育咨询",
    "物流",
    "运输",
    "食品",
    "生物科技",
    "医药",
    "医疗器械",
    "新材料",
    "化工",
    "塑料制品",
    "环保科技",
    "新能源",
    "电气",
    "自动化设备",
    "智能科技",
    "软件",
    "半导体",
    "光电",
    "精密机械",
    "汽车配件",
    "五金制品",
    "纺织",
    "服饰",
    "家具",
    "印刷",
    "包装材料",
    "农业发展",
    "餐饮管理",
    "酒店管理",
    "旅游",
    "广告",
    "健康管理",
    "人力资源",
    "供应链管理",
    "进出口",
    "实业",
)
_FORMS = ("有限公司", "有限责任公司", "股份有限公司", "公司")
_NIL_NAMES = (
    "浙江大学",
    "清华大学",
    "中国科学院上海光学精密机械研究所",
    "复旦大学附属华山医院",
    "杭州市第一人民医院",
    "北京理工大学",
    "中国电子科技集团公司第五十五研究所",
    "西门子股份公司",
    "SIEMENS AG",
    "Apple Inc.",
    "三星电子株式会社",
    "BASF SE",
    "通用电气公司(美国)",
    "江苏省产业技术研究院",
    "深圳市科技创新委员会",
    "上海交通大学医学院",
    "宁波市标准化研究院",
    "中国人民解放军第三〇一医院",
    "索尼(中国)有限公司",
    "Bosch GmbH",
    "台积电股份有限公司",
    "浙江省农业科学院",
    "广州市番禺区人民政府",
    "南京航空航天大学",
)


@dataclass(frozen=True)
class FirmName:
    region: str  # the administrative words the name starts with ("" if none)
    trade: str  # 字号
    industry: str  # 行业
    form: str  # 组织形式 as written
    region_code: str

    @property
    def name(self) -> str:
        return self.region + self.trade + self.industry + self.form

    @property
    def core(self) -> str:
        return self.trade + self.industry


def real_names() -> list[str]:
    """The 617 real names (full names only), de-duplicated, in file order."""
    names: list[str] = []
    for file in ("groundtruth.txt", "company_demo.txt"):
        for line in (COMPANY_NAMES / file).read_text(encoding="utf-8").splitlines():
            if line.strip():
                names.append(line.split()[0])
    return list(dict.fromkeys(names))


def _districts_by_prefix() -> dict[str, list[str]]:
    codes = pd.read_csv(
        Path(__file__).resolve().parent.parent / "features" / "data" / "admin_divisions.csv",
        dtype=str,
    )
    districts = codes[codes["level"] == "district"]["code"].tolist()
    by_prefix: dict[str, list[str]] = {"": districts}
    for code in districts:
        by_prefix.setdefault(code[:2], []).append(code)
        by_prefix.setdefault(code[:4], []).append(code)
        by_prefix.setdefault(code, []).append(code)
    return by_prefix


def _parse_real(name: str, rng: random.Random, districts: dict[str, list[str]]) -> FirmName:
    """Split a real name into region / trade / industry / form with plain longest matches."""
    vocabulary = region_vocabulary()
    region = ""
    rest = name
    for _ in range(3):
        for length in range(min(11, len(rest) - 2), 1, -1):
            if rest[:length] in vocabulary.leading:
                region += rest[:length]
                rest = rest[length:]
                break
        else:
            break
    form = ""
    for candidate in sorted(FORM_CANONICAL, key=len, reverse=True):
        if rest.endswith(candidate) and len(rest) > len(candidate) + 1:
            form, rest = candidate, rest[: -len(candidate)]
            break
    industry = ""
    for word in sorted(_INDUSTRIES, key=len, reverse=True):
        if rest.endswith(word) and len(rest) > len(word) + 1:
            industry, rest = word, rest[: -len(word)]
            break
    region_code = _code_for(region, rng, districts)
    return FirmName(region, rest, industry, form, region_code)


def _code_for(region: str, rng: random.Random, districts: dict[str, list[str]]) -> str:
    prefix = ""
    words = _region_words(region)
    for word in words:
        options = region_vocabulary().codes_by_token.get(word, ())
        fitting = [o for o in options if o.startswith(prefix) or prefix.startswith(o)]
        if fitting:
            prefix = max(fitting, key=len)
    if not prefix:
        return rng.choice(districts[""])
    return rng.choice(districts.get(prefix) or [prefix.ljust(6, "0")])


def _region_words(region: str) -> list[str]:
    vocabulary = region_vocabulary()
    words = []
    rest = region
    while rest:
        for length in range(len(rest), 0, -1):
            if rest[:length] in vocabulary.codes_by_token:
                words.append(rest[:length])
                rest = rest[length:]
                break
        else:
            break
    return words


def credit_code(region_code: str, rng: random.Random) -> str:
    """A valid unified social credit code of an enterprise (91…) registered in `region_code`."""
    return with_check_character(
        "91" + region_code + "".join(rng.choice("0123456789") for _ in range(9))
    )


def _region_prefix(code: str, rng: random.Random) -> str:
    """How a firm in district `code` writes its region: 广州市 / 广州 / 广东省广州市 / 天河区 / …"""
    names = region_vocabulary().name_by_code
    province, city, district = names.get(code[:2], ""), names.get(code[:4], ""), names.get(code)
    short_city = city[:-1] if city.endswith("市") else ""
    short_province = province.removesuffix("省").removesuffix("市")
    options = [city, city, short_city, short_city, short_province, province + city, ""]
    if district and len(district) > 2:
        options.append(city + district)
    choice = rng.choice([o for o in options if o is not None])
    return choice


class NamePool:
    """Synthetic trade names combined from the characters of real trade names."""

    def __init__(self, rng: random.Random) -> None:
        chars: list[str] = []
        for line in (COMPANY_NAMES / "groundtruth.txt").read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) > 1:
                chars.extend(parts[1])
        chars.extend("华信达通恒瑞鑫泰博创源盛宏兴隆德丰嘉润安祥宇航科远智联汇新中天")
        self.chars = sorted(set(c for c in chars if "\u4e00" <= c <= "\u9fff"))
        self.rng = rng

    def trade(self) -> str:
        length = self.rng.choices((2, 3, 4), weights=(0.55, 0.35, 0.10))[0]
        return "".join(self.rng.choice(self.chars) for _ in range(length))

    def other_char(self, char: str) -> str:
        while True:
            replacement = self.rng.choice(self.chars)
            if replacement != char:
                return replacement


def synthetic_firm(pool: NamePool, districts: dict[str, list[str]]) -> FirmName:
    rng = pool.rng
    code = rng.choice(districts[""])
    return FirmName(
        _region_prefix(code, rng),
        pool.trade(),
        rng.choice(_INDUSTRIES),
        rng.choices(_FORMS, weights=(0.7, 0.1, 0.1, 0.1))[0],
        code,
    )


@dataclass(frozen=True)
class VariantData:
    data: SourceData
    truth: pd.DataFrame  # source, row, column, credit_code, variant


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def _width_changed(name: str, rng: random.Random) -> str:
    widened = "".join(_FULL_WIDTH.get(c, c) for c in name)
    if widened == name:  # no ASCII: full-width spaces and brackets around a piece
        cut = rng.randrange(2, max(3, len(name) - 2))
        widened = name[:cut] + "\u3000" + name[cut:]
    return widened


def make_variants(
    base: Sequence[FirmName],
    n_mentions: int,
    seed: int,
    pool: NamePool,
    districts: dict[str, list[str]],
    decoy_rate: float = 0.1,
    history_rate: float = 0.1,
    weights: dict[str, float] | None = None,
) -> VariantData:
    """Registry (firms + decoys + name_history) and mentions with their truth."""
    rng = random.Random(seed)
    s2t = opencc.OpenCC("s2t")
    weights = weights or VARIANT_WEIGHTS
    firms: list[FirmName] = list(dict.fromkeys(base))
    seen_names = {f.name for f in firms}
    codes = []
    used_codes: set[str] = set()
    for firm in firms:
        code = credit_code(firm.region_code, rng)
        while code in used_codes:
            code = credit_code(firm.region_code, rng)
        used_codes.add(code)
        codes.append(code)
    n_real = len(firms)

    # Decoys: the same trade name in another city (same industry) or another industry.
    decoy_of: dict[int, int] = {}
    for index in rng.sample(range(n_real), int(n_real * decoy_rate)):
        firm = firms[index]
        other = rng.choice(districts[""])
        while other[:4] == firm.region_code[:4]:
            other = rng.choice(districts[""])
        if rng.random() < 0.6:
            decoy = FirmName(
                _region_prefix(other, rng) or "东莞", firm.trade, firm.industry, firm.form, other
            )
            decoy_of[index] = len(firms)
        else:
            decoy = FirmName(
                firm.region, firm.trade, rng.choice(_INDUSTRIES), firm.form, firm.region_code
            )
        if decoy.name in seen_names or (decoy.core == firm.core and decoy.region == firm.region):
            decoy_of.pop(index, None)
            continue
        seen_names.add(decoy.name)
        firms.append(decoy)
        code = credit_code(decoy.region_code, rng)
        codes.append(code)

    # Former names (Article 19): a different trade name, or the same one in another industry.
    former: dict[int, str] = {}
    for index in rng.sample(range(n_real), int(n_real * history_rate)):
        firm = firms[index]
        if rng.random() < 0.5:
            old = FirmName(firm.region, pool.trade(), firm.industry, firm.form, firm.region_code)
        else:
            old = FirmName(
                firm.region, firm.trade, rng.choice(_INDUSTRIES), "有限责任公司", firm.region_code
            )
        if old.name not in seen_names:
            former[index] = old.name
            seen_names.add(old.name)

    registry = pd.DataFrame(
        {
            "credit_code": codes,
            "name": [f.name for f in firms],
            "region_code": [f.region_code for f in firms],
            "industry_code": "C3976",
            "status": "operating",
        }
    )
    history = pd.DataFrame(
        {
            "credit_code": [codes[i] for i in former],
            "former_name": list(former.values()),
            "changed_on": pd.Timestamp("2022-01-01"),
        }
    )
    core_count: dict[str, int] = {}
    for firm in firms:
        core_count[firm.core] = core_count.get(firm.core, 0) + 1

    variants = list(weights)
    chosen = rng.choices(variants, weights=[weights[v] for v in variants], k=n_mentions)
    names: list[str] = []
    truth_codes: list[str] = []
    given_codes: list[str | None] = []
    kinds: list[str] = []
    traditional_rows: list[int] = []
    decoy_keys = list(decoy_of)
    former_keys = list(former)
    for variant in chosen:
        index = rng.randrange(n_real)
        firm = firms[index]
        code = codes[index]
        given = None
        if variant == "exact":
            name = firm.name
        elif variant == "code":
            name, given = firm.name if rng.random() < 0.5 else firm.core, code
        elif variant == "region_parenthesized":
            names_by_code = region_vocabulary().name_by_code
            region = (
                firm.region
                or names_by_code.get(firm.region_code[:4])
                or names_by_code.get(firm.region_code[:2], "")
            )
            paren = rng.choice(("()", "（）"))
            name = f"{firm.core}{paren[0]}{region}{paren[1]}{firm.form or '有限公司'}"
        elif variant == "region_dropped":
            if not firm.region or core_count[firm.core] > 1:
                variant, name = "exact", firm.name
            else:
                name = firm.core + firm.form
        elif variant == "suffix_changed":
            forms = [f for f in _FORMS if f != firm.form]
            name = firm.region + firm.core + rng.choice(forms)
        elif variant == "width_changed":
            name = _width_changed(firm.name, rng)
        elif variant == "traditional":
            name = firm.name
            traditional_rows.append(len(names))
        elif variant == "typo":
            position = rng.randrange(len(firm.trade))
            trade = firm.trade[:position] + pool.other_char(firm.trade[position])
            trade += firm.trade[position + 1 :]
            name = firm.region + trade + firm.industry + firm.form
        elif variant == "former_name":
            index = rng.choice(former_keys)
            name, code = former[index], codes[index]
        elif variant == "branch":
            city = rng.choice(("合肥", "南京", "武汉", "成都", "西安", "苏州", "长沙", "郑州"))
            name = firm.name + city + rng.choice(("分公司", "分公司", "办事处", "分厂"))
        elif variant == "ambiguous":
            index = rng.choice(decoy_keys)
            firm, code = firms[index], codes[index]
            name = firm.core + firm.form
            if not firm.region:
                variant = "exact"
        elif variant == "lookalike":
            other = rng.choice(districts[""])
            while other[:2] == firm.region_code[:2]:  # a firm of another province
                other = rng.choice(districts[""])
            prefix = _region_prefix(other, rng) or "东莞"
            if prefix == firm.region or prefix + firm.core + firm.form in seen_names:
                variant, name, code = "nil", rng.choice(_NIL_NAMES), ""
            else:
                name, code = prefix + firm.core + firm.form, ""
        else:  # nil
            code = ""
            if rng.random() < 0.5:
                name = rng.choice(_NIL_NAMES)
            else:
                fresh = synthetic_firm(pool, districts)
                name = fresh.name if fresh.name not in seen_names else rng.choice(_NIL_NAMES)
        if (
            variant in ("suffix_changed", "branch")
            and not firm.region
            and core_count[firm.core] > 1
        ):
            variant = "ambiguous"  # the registry holds the core twice and the name has no region
        names.append(name)
        truth_codes.append(code)
        given_codes.append(given)
        kinds.append(variant)
    if traditional_rows:
        converted = s2t.convert("\n".join(names[i] for i in traditional_rows)).split("\n")
        for row, name in zip(traditional_rows, converted, strict=True):
            names[row] = name

    # Spread the mentions over the name-bearing tables.
    placements = [
        ("ip_holders", "holder_name", "holder_credit_code"),
        ("awards", "unit_name", "unit_credit_code"),
        ("supply_chain", "supplier_name", "supplier_credit_code"),
        ("supply_chain", "customer_name", "customer_credit_code"),
    ]
    n_tables = {"ip_holders": 0, "awards": 0}
    slot = np.array(rng.choices(range(3), weights=(0.5, 0.2, 0.3), k=n_mentions))
    mention = pd.DataFrame(
        {"name": names, "truth": truth_codes, "given": given_codes, "variant": kinds}
    )
    tables: dict[str, pd.DataFrame] = {
        "firms": registry.astype({c: "str" for c in registry.columns}),
    }
    if len(history):
        tables["name_history"] = history.astype({"credit_code": "str", "former_name": "str"})
    truth_frames = []
    for slot_id, (table, name_column, code_column) in enumerate(placements[:2]):
        part = mention[slot == slot_id].reset_index(drop=True)
        n_tables[table] = len(part)
        tables[table] = pd.DataFrame(
            {
                name_column: pd.array(part["name"], dtype="str"),
                code_column: pd.array(part["given"], dtype="str"),
            }
        )
        truth_frames.append(_truth(part, table, name_column))
    chain = mention[slot == 2].reset_index(drop=True)
    half = len(chain) // 2
    suppliers, customers = chain.iloc[:half].reset_index(drop=True), chain.iloc[half : 2 * half]
    customers = customers.reset_index(drop=True)
    tables["supply_chain"] = pd.DataFrame(
        {
            "supplier_name": pd.array(suppliers["name"], dtype="str"),
            "supplier_credit_code": pd.array(suppliers["given"], dtype="str"),
            "customer_name": pd.array(customers["name"], dtype="str"),
            "customer_credit_code": pd.array(customers["given"], dtype="str"),
        }
    )
    truth_frames.append(_truth(suppliers, "supply_chain", "supplier_name"))
    truth_frames.append(_truth(customers, "supply_chain", "customer_name"))
    truth = pd.concat(truth_frames, ignore_index=True)
    assert credit_code_is_valid(registry["credit_code"]).all()
    return VariantData(SourceData(tables=tables), truth)


def _truth(part: pd.DataFrame, table: str, column: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": table,
            "row": np.arange(len(part), dtype=np.int64),
            "column": column,
            "credit_code": part["truth"].to_numpy(),
            "variant": part["variant"].to_numpy(),
        }
    )


def real_dataset(n_mentions: int = 5000, seed: int = 7) -> VariantData:
    """The 617 real names as the registry (plus decoys), with mentions of them."""
    rng = random.Random(seed)
    districts = _districts_by_prefix()
    base = [_parse_real(name, rng, districts) for name in real_names()]
    return make_variants(base, n_mentions, seed, NamePool(rng), districts)


def synthetic_dataset(n_firms: int, n_mentions: int, seed: int = 11) -> VariantData:
    """`n_firms` synthetic firms (names combined from pools), with mentions of them."""
    rng = random.Random(seed)
    districts = _districts_by_prefix()
    pool = NamePool(rng)
    base = [synthetic_firm(pool, districts) for _ in range(n_firms)]
    return make_variants(base, n_mentions, seed, pool, districts)


def main() -> None:
    """Per-variant precision/recall/F1 of `link_mentions` on real and on 20k synthetic names."""
    import time

    from features.matching import evaluate_links, link_mentions

    pd.set_option("display.width", 160)
    for label, dataset in (
        ("real names (617 + decoys)", real_dataset()),
        ("synthetic, 20k firms", synthetic_dataset(20_000, 20_000)),
    ):
        start = time.perf_counter()
        links = link_mentions(dataset.data)
        elapsed = time.perf_counter() - start
        metrics = evaluate_links(links, dataset.truth)
        print(
            f"\n== {label}: {len(dataset.data.tables['firms'])} firms, "
            f"{len(dataset.truth)} mentions, {elapsed:.1f}s"
        )
        table = metrics.by_variant
        print(table.round(3).to_string())
        clear = table.drop(index=["all", "ambiguous"], errors="ignore")
        print(
            "recall over linkable mentions that name one firm (ambiguous excluded): "
            f"{clear['correct'].sum() / clear['linkable'].sum():.3f}"
        )
        print(
            f"NIL accuracy {metrics.nil_accuracy:.3f}  NIL wrong-link rate "
            f"{metrics.nil_wrong_link_rate:.3f}  review queue {metrics.review_size}"
        )


if __name__ == "__main__":
    main()
