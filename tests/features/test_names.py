"""The name normaliser, on real company names (../shared/data/company-names, Apache-2.0)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.names import normalize_name, normalize_names, regions_compatible

COMPANY_NAMES = Path("/work/shared/data/company-names/groundtruth.txt")


def test_leading_region_and_form_are_removed_from_the_core() -> None:
    # given a registered name: region + trade name + industry + form
    # when it is normalised
    parts = normalize_name("柳州国联运输集团有限公司")
    # then the core keeps trade name and industry (集团 stays), the rest is reported beside it
    assert parts.core == "国联运输集团"
    assert parts.trade_name == "国联"
    assert parts.regions == ("柳州",)
    assert parts.region_code == "4502"
    assert parts.form == "有限公司"
    assert not parts.is_branch


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ("国联运输集团(柳州)有限公司", "region in parentheses"),
        ("国联运输集团（柳州）有限公司", "region in full-width parentheses"),
        ("柳州市国联运输集团有限责任公司", "region with 市, long form spelling"),
        ("柳州國聯運輸集團有限公司", "traditional characters"),
        ("柳州 国联运输集团 有限公司", "spaces"),
    ],
)
def test_formatting_variants_share_core_and_region(variant: str, why: str) -> None:
    # given a variant of a real registered name
    # when both are normalised
    registered, written = normalize_name("柳州国联运输集团有限公司"), normalize_name(variant)
    # then core, region and form agree
    assert written.core == registered.core, why
    assert written.region_code == registered.region_code, why
    assert written.form == registered.form, why


def test_region_dropped_keeps_the_core_without_region() -> None:
    # given the real name without its leading region
    parts = normalize_name("国联运输集团有限公司")
    # then the core is the same and no region is claimed
    assert parts.core == "国联运输集团"
    assert parts.region_code is None


def test_width_changed_ascii_is_folded() -> None:
    # given full-width ASCII letters and brackets
    parts = normalize_name("ＡＢＣ电子科技（深圳）有限公司")
    # then they read as half-width, upper case, and the bracketed city is the region
    assert parts.core == "ABC电子科技"
    assert parts.region_code == "4403"


def test_branch_maps_to_its_parent() -> None:
    # given a real branch name from company_demo.txt
    parts = normalize_name("常州途畅互联网科技有限公司合肥分公司")
    # then the parent's parts are returned and the branch is flagged; 合肥 is not the region
    assert parts.is_branch
    assert parts.branch == "合肥分公司"
    assert parts.parent == "常州途畅互联网科技有限公司"
    assert parts.core == "途畅互联网科技"
    assert parts.region_code == "3204"


def test_several_regions_narrow_to_the_district() -> None:
    # given province, city and district written out
    parts = normalize_name("广州市天河区棠下丹妮贸易商行")
    # then the region is the district, and the business-type word closes the industry part
    assert parts.regions == ("广州市", "天河区")
    assert parts.region_code == "440106"
    assert parts.core == "棠下丹妮贸易商行"
    assert parts.trade_name == "棠下丹妮"


def test_trailing_region_and_autonomous_names() -> None:
    # given a region after the trade name, and an autonomous region's full name
    trailing = normalize_name("新月能源石家庄公司")
    autonomous = normalize_name("广西壮族自治区南宁市青秀区宏达有限公司")
    # then both are recognised as regions
    assert (trailing.core, trailing.region_code) == ("新月能源", "1301")
    assert (autonomous.core, autonomous.region_code) == ("宏达", "450103")


def test_bare_district_names_are_not_stripped() -> None:
    # given trade names that are also bare county/district names (平和县, 新华区)
    parts = normalize_name("平和新华电器有限公司")
    # then they stay in the core: only written-out districts and counties are regions
    assert parts.core == "平和新华电器"
    assert parts.region_code is None


def test_a_region_is_never_stripped_to_an_empty_core() -> None:
    # given a name that is little more than a region
    parts = normalize_name("北京公司")
    # then the core keeps the region rather than becoming empty
    assert parts.core == "北京"


def test_every_real_name_normalises_to_a_nonempty_core() -> None:
    # given all real names
    names = [line.split()[0] for line in COMPANY_NAMES.read_text(encoding="utf-8").splitlines()]
    # when normalised together
    parts = normalize_names(pd.Series(names, dtype="str"))
    # then one row per name comes back, each with a core of at least two characters
    assert len(parts) == len(names)
    assert (parts["core"].str.len() >= 2).all()
    # and where the file gives the short trade name, the core contains it in most cases
    short = [line.split() for line in COMPANY_NAMES.read_text(encoding="utf-8").splitlines()]
    pairs = [(p[1], core) for p, core in zip(short, parts["core"], strict=True) if len(p) > 1]
    contained = sum(trade in core for trade, core in pairs)
    assert contained / len(pairs) > 0.95


def test_missing_and_repeated_names_keep_the_input_index() -> None:
    # given a series with an index, a missing value and a repeated name
    names = pd.Series(
        ["浙江绿星园林景观工程有限公司", None, "浙江绿星园林景观工程有限公司"], index=[5, 7, 9]
    )
    # when normalised
    parts = normalize_names(names)
    # then rows align with the input, the missing one is empty and not a branch
    assert list(parts.index) == [5, 7, 9]
    assert parts.loc[5, "core"] == parts.loc[9, "core"] == "绿星园林景观工程"
    assert pd.isna(parts.loc[7, "core"])
    assert not parts.loc[7, "is_branch"]


def test_region_compatibility_is_a_prefix_test() -> None:
    # given province, city and district codes
    a = pd.Series(["44", "4401", "440106", "4401", None], dtype="str")
    b = pd.Series(["440106", "440106", "4401", "4403", "4401"], dtype="str")
    # then inside-ness either way is compatible, different cities and missing are not
    assert regions_compatible(a, b).tolist() == [True, True, True, False, False]
