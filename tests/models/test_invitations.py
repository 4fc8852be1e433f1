"""Invitation lists: only invitable firms, never one with a fail, ranks 1..n, deterministic."""

from __future__ import annotations

import pandas as pd
import pytest

from models.invitations import (
    InvitationError,
    check_invitations,
    funnel,
    invitation_lists,
    province_of,
    renewal_rows,
)


def criteria_rows(
    code: str, tier: str, outcome: str, verdicts: dict[str, str], mode: str = "discovery"
) -> list[dict[str, str]]:
    rows = [
        {
            "credit_code": code,
            "tier": tier,
            "mode": mode,
            "criterion": c,
            "verdict": v,
            "evidence": f"{c} 证据",
        }
        for c, v in verdicts.items()
    ]
    rows.append(
        {
            "credit_code": code,
            "tier": tier,
            "mode": mode,
            "criterion": "outcome",
            "verdict": outcome,
            "evidence": "",
        }
    )
    return rows


@pytest.fixture
def world() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = (
        criteria_rows(
            "A", "specialized", "eligible", {"a1_2_scale": "pass", "a1_5_market": "unknown"}
        )
        + criteria_rows(
            "B", "specialized", "to_verify", {"a1_2_scale": "pass", "a1_3_rd": "unknown"}
        )
        + criteria_rows("C", "specialized", "ineligible", {"a1_2_scale": "fail", "a1_3_rd": "pass"})
        + criteria_rows("D", "specialized", "eligible", {"a1_2_scale": "pass"})
        + criteria_rows("E", "specialized", "already_certified", {"a1_2_scale": "pass"})
        + criteria_rows("A", "little_giant", "ineligible", {"a2_2_revenue": "fail"})
        + criteria_rows("E", "specialized", "eligible", {"a1_2_scale": "pass"}, mode="renewal")
    )
    criteria = pd.DataFrame(rows)
    firms = pd.DataFrame(
        {
            "credit_code": list("ABCDE"),
            "name": ["甲", "乙", "丙", "丁", "戊"],
            "region_code": ["440300", "440300", "440300", "320500", "440300"],
            "status": ["operating"] * 5,
        }
    )
    scores = pd.DataFrame(
        {
            "credit_code": list("ABCDE"),
            "tier": ["specialized"] * 5,
            "score": [0.4, 0.9, 0.99, 0.5, 0.1],
            "reasons": ["r"] * 5,
        }
    )
    return criteria, firms, scores


def test_lists_hold_only_invitable_firms_ranked_by_score(world) -> None:
    criteria, firms, scores = world
    # when the lists are built
    lists = invitation_lists(criteria, scores, firms)
    # then C (a fail) and E (already certified) are absent, and ranks restart per province
    assert set(lists["credit_code"]) == {"A", "B", "D"}
    guangdong = lists[lists["province"] == "44"]
    assert list(guangdong["credit_code"]) == ["B", "A"] and list(guangdong["rank"]) == [1, 2]
    assert list(lists.loc[lists["province"] == "32", "rank"]) == [1]
    assert set(lists["outcome"]) <= {"eligible", "to_verify"}
    b = lists.set_index("credit_code").loc["B"]
    assert "a1_3_rd" in b["to_verify"] and "a1_2_scale" in b["evidence"]


def test_watched_firms_are_not_invited_and_ranks_close_up(world) -> None:
    criteria, firms, scores = world
    # when B is on the watch list (第十四条: a titled firm at risk)
    lists = invitation_lists(criteria, scores, firms, watched=pd.Series(["B"]))
    # then B is not invited and A takes rank 1
    assert "B" not in set(lists["credit_code"])
    guangdong = lists[lists["province"] == "44"]
    assert list(guangdong["credit_code"]) == ["A"] and list(guangdong["rank"]) == [1]


def test_equal_scores_are_ordered_by_credit_code(world) -> None:
    criteria, firms, scores = world
    scores["score"] = 0.5
    first = invitation_lists(criteria, scores, firms)
    again = invitation_lists(criteria, scores.sample(frac=1, random_state=3), firms)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.loc[first["province"] == "44", "credit_code"]) == ["A", "B"]


def test_a_failing_firm_can_never_be_published(world) -> None:
    criteria, firms, scores = world
    lists = invitation_lists(criteria, scores, firms)
    # given a list tampered to include the failing firm C
    tampered = pd.concat([lists, lists.iloc[[0]].assign(credit_code="C", rank=3)])
    with pytest.raises(InvitationError, match="fails a criterion"):
        check_invitations(tampered, criteria)


def test_max_per_list_caps_each_list(world) -> None:
    criteria, firms, scores = world
    lists = invitation_lists(criteria, scores, firms, max_per_list=1)
    assert lists.groupby(["province", "tier"]).size().max() == 1


def test_funnel_counts_each_stage(world) -> None:
    criteria, firms, scores = world
    lists = invitation_lists(criteria, scores, firms)
    table = funnel(criteria, firms, lists).set_index(["province", "tier"])
    row = table.loc[("44", "specialized")]
    assert (row["registry"], row["candidates"], row["eligible"], row["to_verify"]) == (4, 3, 1, 1)
    assert (row["ineligible"], row["already_certified"], row["invited"]) == (1, 1, 2)


def test_renewals_list_titles_under_review(world) -> None:
    criteria, firms, _ = world
    renewals = renewal_rows(criteria, firms)
    assert list(renewals["credit_code"]) == ["E"] and renewals["outcome"].iloc[0] == "eligible"


def test_province_of_missing_region_is_unassigned() -> None:
    assert list(province_of(pd.Series(["440300", None, "x"], dtype="str"))) == ["44", "00", "00"]


def test_declarations_are_the_parts_the_firm_must_state(world) -> None:
    criteria, firms, scores = world
    # given evidence that mixes data with a declaration the firm must make
    mask = (criteria["credit_code"] == "A") & (criteria["criterion"] == "a1_5_market")
    criteria.loc[mask, "evidence"] = "未见市场数据；需申报说明：主导产品细分市场地位"
    lists = invitation_lists(criteria, scores, firms)
    row = lists.set_index("credit_code").loc["A"]
    # then only the declaration part is listed under declarations
    assert row["declarations"] == "需申报说明：主导产品细分市场地位"


# Issue 11: no invited firm has a refused row that could have failed it (unless that row is
# named in its to-verify items and it is `to_verify`).


def _refused(code: str, table: str) -> pd.DataFrame:
    return pd.DataFrame({"credit_code": [code], "table": [table], "row": [4], "reason": ["x"]})


def _could_fail(code: str, table: str) -> pd.DataFrame:
    """The criteria a refused row of `table` with unreadable content could have failed."""
    from models.criteria.doubts import could_fail
    from models.criteria_config import load_criteria_config
    from tests.models.frames import AS_OF

    return could_fail(_refused(code, table), AS_OF, load_criteria_config())


def test_invited_firm_passing_despite_a_refused_row_is_refused(world) -> None:
    criteria, firms, scores = world
    # A passes a1_2_scale, which a refused financials row could have failed
    with pytest.raises(InvitationError, match=r"A \(specialized\).*financials 4.*a1_2_scale"):
        invitation_lists(criteria, scores, firms, could_fail=_could_fail("A", "financials"))
    # a refused row that can only lift a criterion (an award) does not stop the list
    lists = invitation_lists(criteria, scores, firms, could_fail=_could_fail("A", "awards"))
    assert "A" in set(lists["credit_code"])


def test_refused_row_named_in_to_verify_may_be_invited(world) -> None:
    criteria, firms, scores = world
    named = (criteria["credit_code"] == "B") & criteria["criterion"].isin(["a1_2_scale", "a1_3_rd"])
    criteria.loc[named, ["verdict", "evidence"]] = ["unknown", "financials 第4行被拒收"]
    lists = invitation_lists(criteria, scores, firms, could_fail=_could_fail("B", "financials"))
    b = lists.set_index("credit_code").loc["B"]
    assert b["outcome"] == "to_verify" and "第4行被拒收" in b["to_verify"]
    # … but not as `eligible`
    criteria.loc[
        (criteria["credit_code"] == "B") & (criteria["criterion"] == "outcome"), "verdict"
    ] = "eligible"
    with pytest.raises(InvitationError, match="invited as eligible"):
        invitation_lists(criteria, scores, firms, could_fail=_could_fail("B", "financials"))


def test_engine_output_keeps_the_invariant() -> None:
    # given the criteria engine's own verdicts for a firm with a refused dishonesty listing
    from models.criteria import evaluate_criteria
    from models.criteria.doubts import could_fail
    from models.criteria_config import load_criteria_config
    from tests.models.frames import AS_OF, CODE_A, model_firm, source

    refused = _refused(CODE_A, "credit_events")
    criteria = evaluate_criteria(
        source(**model_firm()), AS_OF, load_criteria_config(), refused=refused
    )
    firms = source(**model_firm()).tables["firms"]
    scores = pd.DataFrame(
        {"credit_code": [CODE_A], "tier": ["little_giant"], "score": [0.5], "reasons": ["r"]}
    )
    # when / then: it is invited only as to_verify, the rejects entry in its to-verify items
    lists = invitation_lists(
        criteria, scores, firms, could_fail=could_fail(refused, AS_OF, load_criteria_config())
    )
    assert lists["outcome"].tolist() == ["to_verify"]
    assert "credit_events（信用与合规）第4行被拒收" in lists["to_verify"].iloc[0]
