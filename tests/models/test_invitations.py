"""Invitation lists: only invitable firms, never one with a fail, ranks 1..n, deterministic."""

from __future__ import annotations

import pandas as pd
import pytest

from core.run_layout import LIST_COLUMNS, REAPPLY_COLUMNS
from models.invitations import (
    InvitationError,
    check_invitations,
    funnel,
    invitation_lists,
    province_of,
    reapply_lists,
    renewal_rows,
    split_by_history,
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


def test_list_cells_lead_with_the_criterions_name_and_article(world) -> None:
    # issue 29: officials read a criterion's name and article; the id follows in brackets
    criteria, firms, scores = world
    b = invitation_lists(criteria, scores, firms).set_index("credit_code").loc["B"]
    assert b["to_verify"].startswith("研发费用（附件1（三））［a1_3_rd］：")
    assert b["evidence"].startswith("营业收入或股权投资（附件1（二））［a1_2_scale］：")
    renewal = (criteria["mode"] == "renewal") & (criteria["criterion"] == "a1_2_scale")
    criteria.loc[renewal, ["verdict", "evidence"]] = ["fail", "营业收入 900万元 < 1,000万元"]
    (failing,) = renewal_rows(criteria, firms)["failing"]
    assert (
        failing == "营业收入或股权投资（附件1（二））［a1_2_scale］：营业收入 900万元 < 1,000万元"
    )


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
    assert "信用与合规［credit_events］第4行被拒收" in lists["to_verify"].iloc[0]


# Issue 24: the lists split by what the province already knows. The invitation list holds
# discoveries only; firms whose last application for the tier was not approved are listed for
# re-application; a firm applying in the current round is on neither.

AS_OF_24 = pd.Timestamp("2026-06-30").date()


def applications(*rows: tuple[str, int, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["credit_code", "year", "title", "outcome"])


@pytest.fixture
def applied(world) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The world, its scores with a p_qualify per firm (A 0.3, B 0.8, C 0.9, D 0.6, E 0.2)."""
    criteria, firms, scores = world
    scores = scores.assign(p_qualify=[0.3, 0.8, 0.9, 0.6, 0.2])
    return criteria, firms, scores


# A rejected for specialized in 2024, then withdrawn in 2025; B applies in the current round;
# D rejected for the little giant tier only; C (a fail) and E (certified) rejected before.
HISTORY = applications(
    ("A", 2024, "specialized_sme", "rejected"),
    ("A", 2025, "specialized_sme", "withdrawn"),
    ("B", 2023, "specialized_sme", "rejected"),
    ("B", 2026, "specialized_sme", "rejected"),
    ("C", 2025, "specialized_sme", "rejected"),
    ("D", 2025, "little_giant", "rejected"),
    ("E", 2022, "specialized_sme", "rejected"),
)


def test_split_by_history_keeps_discoveries_lists_reapplicants_and_drops_this_round() -> None:
    rows = pd.DataFrame(
        {"credit_code": list("ABDF"), "tier": ["specialized"] * 4, "outcome": ["eligible"] * 4}
    )
    discoveries, reapply = split_by_history(rows, HISTORY, AS_OF_24)
    # D applied for the other tier only, F never: discoveries; B applies this round: neither
    assert list(discoveries["credit_code"]) == ["D", "F"]
    assert list(reapply["credit_code"]) == ["A"]
    a = reapply.iloc[0]
    assert (a["last_round"], a["last_outcome"]) == (2025, "withdrawn")
    assert "last_round" not in discoveries.columns


def test_without_applications_every_invitable_firm_is_a_discovery() -> None:
    rows = pd.DataFrame({"credit_code": ["A", "B"], "tier": ["specialized", "little_giant"]})
    for missing in (None, HISTORY.iloc[0:0], pd.DataFrame()):
        discoveries, reapply = split_by_history(rows, missing, AS_OF_24)
        pd.testing.assert_frame_equal(discoveries, rows)
        assert reapply.empty and {"last_round", "last_outcome"} <= set(reapply.columns)


def test_applications_after_the_date_are_not_known() -> None:
    rows = pd.DataFrame({"credit_code": ["A", "B"], "tier": ["specialized", "specialized"]})
    later = applications(("A", 2027, "specialized_sme", "rejected"))
    later = pd.concat(
        [
            later.assign(submitted_on=pd.NaT),
            applications(("B", 2026, "specialized_sme", "rejected")).assign(
                submitted_on=pd.Timestamp("2026-07-15")
            ),
        ],
        ignore_index=True,
    )
    discoveries, reapply = split_by_history(rows, later, AS_OF_24)
    assert list(discoveries["credit_code"]) == ["A", "B"] and reapply.empty


def test_the_last_application_counts_and_an_approval_is_listed_for_reapplication() -> None:
    # given: F approved in 2022 (its title no longer valid, since it is invitable again), and
    # G rejected then approved in one round (submission dates tell the order)
    history = pd.concat(
        [
            applications(("F", 2020, "specialized_sme", "rejected")),
            applications(("F", 2022, "specialized_sme", "approved")),
            applications(("G", 2024, "specialized_sme", "approved")).assign(
                submitted_on=pd.Timestamp("2024-03-01")
            ),
            applications(("G", 2024, "specialized_sme", "rejected")).assign(
                submitted_on=pd.Timestamp("2024-05-01")
            ),
        ],
        ignore_index=True,
    )
    rows = pd.DataFrame({"credit_code": ["F", "G"], "tier": ["specialized", "specialized"]})
    discoveries, reapply = split_by_history(rows, history, AS_OF_24)
    assert discoveries.empty
    assert reapply.set_index("credit_code")["last_outcome"].to_dict() == {
        "F": "approved",
        "G": "rejected",
    }
    assert reapply.set_index("credit_code")["last_round"].to_dict() == {"F": 2022, "G": 2024}


def test_invitation_list_holds_discoveries_only(applied) -> None:
    criteria, firms, scores = applied
    # when the lists are built knowing the applications
    lists = invitation_lists(criteria, scores, firms, applications=HISTORY, as_of=AS_OF_24)
    # then A (rejected before) and B (applying now) are not invited; D (other tier) is
    assert list(lists["credit_code"]) == ["D"]
    assert list(lists["rank"]) == [1] and list(lists.columns) == ["province", *LIST_COLUMNS]
    # and the same call without applications invites every invitable firm
    everyone = invitation_lists(criteria, scores, firms, applications=None, as_of=AS_OF_24)
    assert set(everyone["credit_code"]) == {"A", "B", "D"}


def test_discoveries_are_capped_after_the_split(applied) -> None:
    criteria, firms, scores = applied
    lists = invitation_lists(
        criteria, scores, firms, max_per_list=1, applications=HISTORY, as_of=AS_OF_24
    )
    assert list(lists["credit_code"]) == ["D"]  # not emptied by a capped re-applicant


def test_reapply_list_holds_invitable_firms_turned_down_before(applied) -> None:
    criteria, firms, scores = applied
    history = pd.concat(
        [HISTORY, applications(("D", 2024, "specialized_sme", "rejected"))], ignore_index=True
    )
    # when
    reapply = reapply_lists(criteria, scores, firms, history, AS_OF_24)
    # then A and D: invitable, turned down in an earlier round; never C (a fail), E (certified)
    # or B (applying in this round)
    assert list(reapply.columns) == ["province", *REAPPLY_COLUMNS]
    assert set(reapply["credit_code"]) == {"A", "D"}
    assert set(reapply["outcome"]) <= {"eligible", "to_verify"}
    a = reapply.set_index("credit_code").loc["A"]
    assert (a["last_round"], a["last_outcome"], a["rank"]) == (2025, "withdrawn", 1)
    assert "a1_2_scale" in a["evidence"]
    # and no firm is on both lists for the same tier
    lists = invitation_lists(criteria, scores, firms, applications=history, as_of=AS_OF_24)
    keys = ["credit_code", "tier"]
    assert lists[keys].merge(reapply[keys]).empty


def test_reapply_list_is_ordered_by_p_qualify_then_by_score_without_a_model(applied) -> None:
    criteria, firms, scores = applied
    firms.loc[firms["credit_code"] == "D", "region_code"] = "440300"  # all in one province
    history = applications(
        ("A", 2024, "specialized_sme", "rejected"),
        ("B", 2024, "specialized_sme", "rejected"),
        ("D", 2024, "specialized_sme", "rejected"),
    )
    # given: B has the highest p_qualify (0.8) and score (0.9); A p 0.3 / score 0.4; D 0.6 / 0.5
    scores.loc[scores["credit_code"] == "A", "score"] = 0.7  # a high score, a low p_qualify
    ordered = reapply_lists(criteria, scores, firms, history, AS_OF_24)
    assert list(ordered["credit_code"]) == ["B", "D", "A"]
    assert list(ordered["rank"]) == [1, 2, 3]
    # ties in p_qualify: by credit code
    tied = reapply_lists(criteria, scores.assign(p_qualify=0.5), firms, history, AS_OF_24)
    assert list(tied["credit_code"]) == ["A", "B", "D"]
    # a rule-baseline ordering (no probabilities): by score
    baseline = reapply_lists(criteria, scores.assign(p_qualify=None), firms, history, AS_OF_24)
    assert list(baseline["credit_code"]) == ["B", "A", "D"]


def test_reapply_list_keeps_the_safeguards(applied) -> None:
    criteria, firms, scores = applied
    history = applications(
        ("A", 2024, "specialized_sme", "rejected"), ("B", 2024, "specialized_sme", "rejected")
    )
    # a watched firm is not listed for re-application either
    reapply = reapply_lists(criteria, scores, firms, history, AS_OF_24, watched=pd.Series(["B"]))
    assert list(reapply["credit_code"]) == ["A"] and list(reapply["rank"]) == [1]
    # the refused-row check applies (A passes a1_2_scale, which a refused row could fail)
    with pytest.raises(InvitationError, match=r"A \(specialized\)"):
        reapply_lists(
            criteria, scores, firms, history, AS_OF_24, could_fail=_could_fail("A", "financials")
        )
    # without applications the list is empty, with its columns
    empty = reapply_lists(criteria, scores, firms, None, AS_OF_24)
    assert empty.empty and list(empty.columns) == ["province", *REAPPLY_COLUMNS]


def test_funnel_counts_reapplicants_beside_the_invited(applied) -> None:
    criteria, firms, scores = applied
    lists = invitation_lists(criteria, scores, firms, applications=HISTORY, as_of=AS_OF_24)
    reapply = reapply_lists(criteria, scores, firms, HISTORY, AS_OF_24)
    row = (
        funnel(criteria, firms, lists, reapply)
        .set_index(["province", "tier"])
        .loc[("44", "specialized")]
    )
    assert (row["invited"], row["reapply"]) == (0, 1)
