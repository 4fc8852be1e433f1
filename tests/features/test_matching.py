"""Entity matching: stages, precision-first decisions, attribution and evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from features.match_config import MatchingConfig
from features.matching import (
    LINK_COLUMNS,
    attribute_mentions,
    evaluate_links,
    link_mentions,
    review_queue,
)
from features.schemas import credit_code_is_valid
from features.sources import SourceData


def _valid(body: str) -> str:
    """Append the GB 32100 check character (../shared/reference/facts.md §2)."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(charset.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + charset[(31 - total % 31) % 31]


GUOLIAN = _valid("91450202000000001")
GUOLIAN_NANNING = _valid("91450103000000002")
LVXING = _valid("91330106000000003")
ZHONGHUAN = _valid("91330102000000004")
SHUANGLI = _valid("91440604000000005")
OUTSIDE = "91110108551385082Q"  # a real, valid code of a firm outside this registry


def _firms(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "credit_code": pd.array([r[0] for r in rows], dtype="str"),
            "name": pd.array([r[1] for r in rows], dtype="str"),
            "region_code": pd.array([r[2] for r in rows], dtype="str"),
            "industry_code": pd.array(["C3976"] * len(rows), dtype="str"),
            "status": pd.array(["operating"] * len(rows), dtype="str"),
        }
    )


REGISTRY = _firms(
    (GUOLIAN, "柳州国联运输集团有限公司", "450202"),
    (LVXING, "浙江绿星园林景观工程有限公司", "330106"),
    (ZHONGHUAN, "杭州中环设备有限公司", "330102"),
    (SHUANGLI, "广东双力电器有限公司", "440604"),
)


def _holders(names: list[str | None], codes: list[str | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ip_id": pd.array([f"ZL{i}" for i in range(len(names))], dtype="str"),
            "holder_name": pd.array(names, dtype="str"),
            "holder_rank": pd.array([1] * len(names), dtype="Int64"),
            "holder_credit_code": pd.array(codes or [None] * len(names), dtype="str"),
        }
    )


def _link(names: list[str | None], firms: pd.DataFrame = REGISTRY, **tables) -> pd.DataFrame:
    data = SourceData(tables={"firms": firms, "ip_holders": _holders(names), **tables})
    return link_mentions(data)


def test_test_codes_are_valid() -> None:
    # given the codes used here and known invalid ones from facts.md
    codes = pd.Series([GUOLIAN, LVXING, OUTSIDE, "91110108717809965C", "123", None], dtype="str")
    # then only the well-formed ones with the right check character pass
    assert credit_code_is_valid(codes).tolist() == [True, True, True, False, False, False]


def test_output_columns_and_row_numbers() -> None:
    # given two holder mentions
    links = _link(["柳州国联运输集团有限公司", "某某大学"])
    # then one row per mention with the contract's columns, rows numbered from 0
    assert list(links.columns) == list(LINK_COLUMNS)
    assert links["row"].tolist() == [0, 1]
    assert (links["source"] == "ip_holders").all()
    assert (links["column"] == "holder_name").all()


@pytest.mark.parametrize(
    ("written", "method"),
    [
        ("柳州国联运输集团有限公司", "exact"),
        ("柳州國聯運輸集團有限公司", "normalized"),
        ("柳州 国联运输集团有限公司", "normalized"),
        ("国联运输集团（柳州）有限公司", "normalized"),
        ("国联运输集团有限责任公司", "normalized"),
        ("柳州国联运输集团有限公司南宁分公司", "normalized"),
    ],
)
def test_formatting_variants_link(written: str, method: str) -> None:
    # given a formatting variant of a registered name
    links = _link([written])
    # then it links to that firm by the expected stage
    assert links.loc[0, "credit_code"] == GUOLIAN
    assert links.loc[0, "method"] == method


def test_a_typo_links_by_fuzzy_match() -> None:
    # given a one-character typo in the trade name, region kept
    links = _link(["浙江绿兴园林景观工程有限公司"])
    # then the fuzzy stage links it with a score under 1
    assert links.loc[0, "credit_code"] == LVXING
    assert links.loc[0, "method"] == "fuzzy"
    assert 0.8 <= links.loc[0, "score"] < 1.0


def test_a_former_name_links_via_history() -> None:
    # given the firm was renamed (Article 19) and the mention uses the old name
    history = pd.DataFrame(
        {
            "credit_code": pd.array([SHUANGLI], dtype="str"),
            "former_name": pd.array(["佛山市顺德区双力家电制造有限公司"], dtype="str"),
            "changed_on": pd.to_datetime(["2021-06-01"]),
        }
    )
    links = _link(["佛山市顺德区双力家电制造有限公司"], name_history=history)
    # then it links to the renamed firm by the history stage
    assert links.loc[0, "credit_code"] == SHUANGLI
    assert links.loc[0, "method"] == "history"


def test_look_alikes_without_region_go_to_review() -> None:
    # given the same trade name registered in two cities
    firms = pd.concat(
        [REGISTRY, _firms((GUOLIAN_NANNING, "南宁国联运输集团有限公司", "450103"))],
        ignore_index=True,
    )
    # when a mention names neither city
    links = _link(["国联运输集团有限公司", "南宁国联运输集团有限公司"], firms=firms)
    # then it goes to review with both candidates and no code; the one with a city links
    first = links.loc[0]
    assert first["method"] == "review"
    assert pd.isna(first["credit_code"])
    assert set(first["candidate_codes"].split("|")) == {GUOLIAN, GUOLIAN_NANNING}
    assert links.loc[1, "credit_code"] == GUOLIAN_NANNING
    assert len(review_queue(links)) == 1


def test_a_look_alike_in_another_city_is_not_linked() -> None:
    # given only the 柳州 firm is registered
    # when a firm of the same trade name in 贵阳 is mentioned
    links = _link(["贵阳国联运输集团有限公司"])
    # then it is not linked (review for a person, never a guess)
    assert pd.isna(links.loc[0, "credit_code"])
    assert links.loc[0, "method"] == "review"


@pytest.mark.parametrize(
    "nil_name",
    [
        "浙江大学",
        "中国科学院上海光学精密机械研究所",
        "Siemens AG",
        "三星电子株式会社",
        "杭州市第一人民医院",
    ],
)
def test_nil_names_stay_unlinked(nil_name: str) -> None:
    # given universities, institutes and foreign firms that are in no registry
    links = _link([nil_name])
    # then they are not linked
    assert pd.isna(links.loc[0, "credit_code"])
    assert links.loc[0, "method"] == "none"


def test_credit_code_stage() -> None:
    # given mentions carrying codes: a registered one under a garbled name, an outside one
    # under a registered name, and an invalid one under a registered name
    holders = _holders(
        ["完全不同的名字", "杭州中环设备有限公司", "杭州中环设备有限公司"],
        [GUOLIAN, OUTSIDE, "91110108717809965C"],
    )
    links = link_mentions(SourceData(tables={"firms": REGISTRY, "ip_holders": holders}))
    # then the registered code wins, a valid outside code is NIL, an invalid code is ignored
    assert links["method"].tolist() == ["code", "none", "exact"]
    assert links["credit_code"].tolist()[0] == GUOLIAN
    assert pd.isna(links.loc[1, "credit_code"])
    assert links.loc[2, "credit_code"] == ZHONGHUAN


def test_distinct_names_are_resolved_once_and_joined_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the same name mentioned in several tables and rows
    import features.matching as matching

    seen: list[int] = []
    original = matching.resolve_names

    def counting(names: pd.Series, *args: object, **kwargs: object) -> pd.DataFrame:
        result = original(names, *args, **kwargs)  # type: ignore[arg-type]
        seen.append(len(result))
        return result

    monkeypatch.setattr(matching, "resolve_names", counting)
    awards = pd.DataFrame(
        {
            "award_name": pd.array(["浙江省科学技术奖"] * 2, dtype="str"),
            "unit_name": pd.array(
                ["杭州中环设备有限公司", "浙江绿星园林景观工程有限公司"], dtype="str"
            ),
            "unit_credit_code": pd.array([None, None], dtype="str"),
        }
    )
    names = ["杭州中环设备有限公司"] * 3 + ["浙江绿星园林景观工程有限公司", None]
    links = _link(names, awards=awards)
    # then two distinct names were resolved, and every row got its link
    assert seen == [2]
    assert len(links) == 7
    zhonghuan = links["raw_name"] == "杭州中环设备有限公司"
    assert (links.loc[zhonghuan, "credit_code"] == ZHONGHUAN).all()
    assert links.loc[links["raw_name"].isna(), "method"].tolist() == ["none"]


def test_attribute_mentions_fills_codes_of_linked_mentions_only() -> None:
    # given one exact, one ambiguous-free NIL mention
    data = SourceData(
        tables={"firms": REGISTRY, "ip_holders": _holders(["杭州中环设备有限公司", "浙江大学"])}
    )
    # when mentions are attributed
    attributed = attribute_mentions(data)
    # then the linked row carries the code, the NIL row stays empty, the input is untouched
    codes = attributed.tables["ip_holders"]["holder_credit_code"]
    assert codes.iloc[0] == ZHONGHUAN
    assert pd.isna(codes.iloc[1])
    assert data.tables["ip_holders"]["holder_credit_code"].isna().all()


def test_evaluate_links_counts_precision_recall_and_nil() -> None:
    # given links and a truth with a correct link, a wrong link, a missed one and a NIL
    links = pd.DataFrame(
        {
            "source": ["ip_holders"] * 4,
            "row": [0, 1, 2, 3],
            "column": ["holder_name"] * 4,
            "credit_code": pd.array([GUOLIAN, LVXING, None, None], dtype="str"),
            "method": ["exact", "fuzzy", "review", "none"],
        }
    )
    truth = pd.DataFrame(
        {
            "source": ["ip_holders"] * 4,
            "row": [0, 1, 2, 3],
            "column": ["holder_name"] * 4,
            "credit_code": [GUOLIAN, ZHONGHUAN, SHUANGLI, ""],
            "variant": ["exact", "typo", "typo", "nil"],
        }
    )
    # when evaluated
    metrics = evaluate_links(links, truth)
    # then precision 1/2, recall 1/3, NIL all unlinked, one review
    assert metrics.precision == pytest.approx(0.5)
    assert metrics.recall == pytest.approx(1 / 3)
    assert metrics.nil_accuracy == 1.0
    assert metrics.review_size == 1
    assert metrics.by_variant.loc["typo", "wrong"] == 1


def test_config_refuses_unknown_keys() -> None:
    # given the shipped config
    config = MatchingConfig.load()
    # then thresholds are ordered sensibly and the model is strict
    assert config.fuzzy.review_threshold < config.fuzzy.link_threshold <= 1.0
    with pytest.raises(ValueError):
        MatchingConfig.model_validate({**config.model_dump(), "typo": 1})
