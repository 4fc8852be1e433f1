"""The JSON API: every endpoint, every role, cross-province attempts, validation and the audit."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.service.conftest import (
    RUN_NEW,
    RUN_OLD,
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    Service,
    bearer,
)

API = "/api/v1/runs/latest"


def get(client: TestClient, path: str, token: str | None, **params: object) -> dict:
    headers = bearer(token) if token else {}
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def codes(page: dict) -> list[str]:
    return [row["credit_code"] for row in page["items"]]


# ------------------------------------------------------------------ access


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me",
        "/api/v1/runs",
        API,
        f"{API}/provinces/44/invitations",
        f"{API}/provinces/44/download/xlsx",
        f"{API}/provinces/44/cultivation",
        f"{API}/provinces/44/renewals",
        f"{API}/firms/{A}",
    ],
)
def test_every_data_endpoint_refuses_missing_revoked_and_forged_tokens(
    client: TestClient, service_files: Service, path: str
) -> None:
    # given: no token, a revoked one, a malformed one, and a real id with a wrong secret
    revoked = service_files.tokens.revoked
    forged = service_files.tokens.guangdong.split(".")[0] + ".not-the-secret"
    for headers in ({}, bearer(revoked), bearer("nonsense"), bearer(forged)):
        # when
        response = client.get(path, headers=headers)
        # then
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"detail": "需要有效的访问令牌"}


def test_me_names_the_role_and_province(client: TestClient, service_files: Service) -> None:
    me = get(client, "/api/v1/me", service_files.tokens.guangdong)
    assert (me["role"], me["province"], me["name"]) == ("province", "44", "广东省工业和信息化厅")
    assert get(client, "/api/v1/me", service_files.tokens.ministry)["role"] == "ministry"


# ------------------------------------------------------------------ runs


def test_ministry_sees_every_run_newest_first_with_all_provinces(
    client: TestClient, service_files: Service
) -> None:
    listing = get(client, "/api/v1/runs", service_files.tokens.ministry)
    assert listing["latest"] == RUN_NEW
    assert [run["run_id"] for run in listing["runs"]] == [RUN_NEW, RUN_OLD]  # no staging dir
    newest = listing["runs"][0]
    assert newest["latest"] and newest["provinces"] == ["11", "44"]
    assert {row["province"] for row in newest["funnel"]} == {"11", "44"}
    assert newest["counts"]["firms"] == 20


def test_province_sees_runs_but_only_its_own_province(
    client: TestClient, service_files: Service
) -> None:
    listing = get(client, "/api/v1/runs", service_files.tokens.guangdong)
    for run in listing["runs"]:
        assert run["provinces"] == ["44"]
        assert {row["province"] for row in run["funnel"]} == {"44"}
        assert run["counts"] is None


def test_run_by_id_and_latest_alias(client: TestClient, service_files: Service) -> None:
    token = service_files.tokens.beijing
    assert get(client, API, token)["run_id"] == RUN_NEW
    old = get(client, f"/api/v1/runs/{RUN_OLD}", token)
    assert (old["run_id"], old["latest"], old["provinces"]) == (RUN_OLD, False, ["11"])


@pytest.mark.parametrize(
    ("run_id", "status"),
    [("20990101-unknown", 404), ("latest-not", 404), (".staging-20260707-x", 422)],
)
def test_unknown_or_unpublished_run_is_refused(
    client: TestClient, service_files: Service, run_id: str, status: int
) -> None:
    response = client.get(f"/api/v1/runs/{run_id}", headers=bearer(service_files.tokens.ministry))
    assert response.status_code == status


# ------------------------------------------------------------------ invitation lists


def test_province_list_default_order_is_rank_then_tier(
    client: TestClient, service_files: Service
) -> None:
    page = get(client, f"{API}/provinces/44/invitations", service_files.tokens.guangdong)
    assert page["total"] == 3
    assert codes(page) == [C, A, B]  # rank 1 little_giant, rank 1 specialized, rank 2
    first = page["items"][1]
    assert first["name"] == "深圳市华芯微电子有限公司" and first["score"] == pytest.approx(0.91)
    assert first["rank"] == 1 and first["outcome"] == "eligible"
    # the codes stay, their names beside them (issue 29)
    assert (first["tier"], first["tier_label"]) == ("specialized", "专精特新中小企业")
    assert (first["outcome"], first["outcome_label"]) == ("eligible", "达标")
    assert page["items"][0]["tier_label"] == "专精特新“小巨人”企业"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": "specialized"}, [A, B]),
        ({"tier": "little_giant"}, [C]),
        ({"outcome": "to_verify"}, [B]),
        ({"min_score": 0.7}, [C, A]),
        ({"q": "蓝海"}, [B]),
        ({"q": A[:17].lower()}, [A]),  # credit code prefix, any case
        ({"q": "北京"}, []),  # a firm of another province is not found by search either
        ({"sort": "score", "order": "desc"}, [A, C, B]),
        ({"sort": "name"}, [C, A, B]),
        ({"sort": "score", "order": "desc", "page": 2, "page_size": 1}, [C]),
        ({"page": 9}, []),
        ({"tier": "", "outcome": "", "q": "", "min_score": ""}, [C, A, B]),  # empty = no filter
    ],
)
def test_list_filters_search_sort_and_pages(
    client: TestClient, service_files: Service, params: dict, expected: list[str]
) -> None:
    page = get(client, f"{API}/provinces/44/invitations", service_files.tokens.ministry, **params)
    assert codes(page) == expected


def test_pagination_reports_total_before_paging(client: TestClient, service_files: Service) -> None:
    page = get(
        client, f"{API}/provinces/44/invitations", service_files.tokens.ministry, page_size=2
    )
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (3, 1, 2, 2)


def test_other_province_list_is_404_exactly_like_a_missing_one(
    client: TestClient, service_files: Service
) -> None:
    guangdong = bearer(service_files.tokens.guangdong)
    other = client.get(f"{API}/provinces/11/invitations", headers=guangdong)
    missing = client.get(
        f"{API}/provinces/99/invitations", headers=bearer(service_files.tokens.ministry)
    )
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {"detail": "未找到"}
    beijing = get(client, f"{API}/provinces/11/invitations", service_files.tokens.beijing)
    assert codes(beijing) == [D]


# ------------------------------------------------------------------ downloads


def test_download_excel_and_csv_of_own_province(client: TestClient, service_files: Service) -> None:
    headers = bearer(service_files.tokens.guangdong)
    xlsx = client.get(f"{API}/provinces/44/download/xlsx", headers=headers)
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = book["专精特新中小企业"]
    assert [sheet.cell(row, 2).value for row in (2, 3)] == [A, B]
    csv = client.get(f"{API}/provinces/44/download/csv", headers=headers)
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert A in csv.text and D not in csv.text


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_download_of_other_province_is_404(
    client: TestClient, service_files: Service, file_format: str
) -> None:
    response = client.get(
        f"{API}/provinces/11/download/{file_format}", headers=bearer(service_files.tokens.guangdong)
    )
    assert response.status_code == 404 and response.json() == {"detail": "未找到"}
    assert D.encode() not in response.content


def test_download_format_is_validated(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/download/pdf", headers=bearer(service_files.tokens.ministry)
    )
    assert response.status_code == 422


# ------------------------------------------------------------------ firms


def test_firm_evidence_per_tier_with_reasons_and_data_gaps(
    client: TestClient, service_files: Service
) -> None:
    firm = get(client, f"{API}/firms/{B}", service_files.tokens.guangdong)
    assert (firm["name"], firm["region_code"], firm["province"]) == (
        "深圳市蓝海精密机械有限公司",
        "440306",
        "44",
    )
    (tier,) = firm["tiers"]
    assert (tier["tier"], tier["mode"], tier["outcome"]) == (
        "specialized",
        "discovery",
        "to_verify",
    )
    assert tier["data_gaps"] == ["a1_5_market"] and tier["failing"] == []
    verdicts = {
        row["criterion"]: (row["verdict"], row["label"], row["verdict_label"])
        for row in tier["criteria"]
    }
    assert verdicts["a1_2_scale"] == ("pass", "营业收入或股权投资（附件1（二））", "达标")
    assert (tier["tier_label"], tier["mode_label"], tier["outcome_label"]) == (
        "专精特新中小企业",
        "主动发现",
        "待核实",
    )
    assert tier["data_gap_labels"] == ["市场地位（附件1（五））"]
    assert tier["invitation"]["to_verify"].startswith("市场地位（附件1（五））［a1_5_market］：")
    assert tier["invitation"]["rank"] == 2
    assert tier["invitation"]["reasons"].startswith("I类知识产权")


def test_firm_renewal_and_cultivation_entries(client: TestClient, service_files: Service) -> None:
    firm = get(client, f"{API}/firms/{E}", service_files.tokens.guangdong)
    by_mode = {tier["mode"]: tier for tier in firm["tiers"]}
    assert by_mode["discovery"]["failing"] == ["a1_3_rd"]
    assert by_mode["discovery"]["cultivation"]["failing_criteria"] == "a1_3_rd"
    assert by_mode["renewal"]["renewal"]["outcome"] == "ineligible"
    assert by_mode["discovery"]["invitation"] is None


@pytest.mark.parametrize(
    ("token_name", "firm", "status"),
    [
        ("guangdong", A, 200),
        ("guangdong", D, 404),  # registered in Beijing
        ("guangdong", G, 404),  # Beijing renewal
        ("beijing", A, 404),
        ("beijing", G, 200),
        ("guangdong", F, 404),  # no region code: ministry only
        ("ministry", F, 200),
        ("ministry", D, 200),
        ("ministry", "91440300MA5F00009Q", 404),  # well-formed, not in the run
    ],
)
def test_firm_pages_follow_the_province_of_registration(
    client: TestClient, service_files: Service, token_name: str, firm: str, status: int
) -> None:
    token = getattr(service_files.tokens, token_name)
    response = client.get(f"{API}/firms/{firm}", headers=bearer(token))
    assert response.status_code == status, response.text
    if status == 404:
        assert response.json() == {"detail": "未找到"}


# ------------------------------------------------------------------ cultivation and renewals


def test_cultivation_list_is_per_province(client: TestClient, service_files: Service) -> None:
    guangdong = get(client, f"{API}/provinces/44/cultivation", service_files.tokens.guangdong)
    assert codes(guangdong) == [E] and guangdong["items"][0]["name"] == "深圳市恒达新材料有限公司"
    row = guangdong["items"][0]
    assert (row["failing_criteria"], row["failing_criteria_labels"]) == (
        "a1_3_rd",
        "研发费用（附件1（三））",
    )
    assert row["tier_label"] == "专精特新中小企业"
    unplaced = get(client, f"{API}/provinces/00/cultivation", service_files.tokens.ministry)
    assert codes(unplaced) == [F]
    response = client.get(
        f"{API}/provinces/00/cultivation", headers=bearer(service_files.tokens.guangdong)
    )
    assert response.status_code == 404


def test_renewal_list_filters_and_cross_province(
    client: TestClient, service_files: Service
) -> None:
    assert codes(get(client, f"{API}/provinces/11/renewals", service_files.tokens.beijing)) == [G]
    token = service_files.tokens.ministry
    assert codes(get(client, f"{API}/provinces/44/renewals", token, outcome="eligible")) == []
    assert codes(get(client, f"{API}/provinces/44/renewals", token, tier="specialized")) == [E]
    response = client.get(
        f"{API}/provinces/11/renewals", headers=bearer(service_files.tokens.guangdong)
    )
    assert response.status_code == 404


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/provinces/4/invitations",
        f"{API}/provinces/4a/invitations",
        f"{API}/provinces/440/cultivation",
        f"{API}/provinces/44/invitations?tier=giant",
        f"{API}/provinces/44/invitations?outcome=ineligible",  # never on a list
        f"{API}/provinces/44/invitations?min_score=1.5",
        f"{API}/provinces/44/invitations?min_score=nan",
        f"{API}/provinces/44/invitations?min_score=abc",
        f"{API}/provinces/44/invitations?sort=evidence",
        f"{API}/provinces/44/invitations?order=up",
        f"{API}/provinces/44/invitations?page=0",
        f"{API}/provinces/44/invitations?page_size=501",
        f"{API}/provinces/44/invitations?q={'x' * 101}",
        f"{API}/provinces/44/renewals?page=-1",
        f"{API}/firms/{A.lower()}",
        f"{API}/firms/{A[:17]}",
        f"{API}/firms/{A[:17]}I",  # I, O, S, V, Z are not in the GB 32100 charset
        "/api/v1/runs/bad!id",
    ],
)
def test_invalid_parameters_are_422_with_a_reason(
    client: TestClient, service_files: Service, path: str
) -> None:
    response = client.get(path, headers=bearer(service_files.tokens.ministry))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"]


# ------------------------------------------------------------------ audit and headers


def test_audit_log_records_who_what_when_and_status_never_the_token(
    client: TestClient, service_files: Service
) -> None:
    # given
    token = service_files.tokens.guangdong
    before = (
        service_files.audit_log.read_text().count("\n") if service_files.audit_log.exists() else 0
    )
    # when: an allowed read, a cross-province attempt, a firm page, an anonymous attempt
    client.get(f"{API}/provinces/44/invitations?q=蓝海", headers=bearer(token))
    client.get(f"{API}/provinces/11/download/xlsx", headers=bearer(token))
    client.get(f"{API}/firms/{A}", headers=bearer(token))
    client.get(f"{API}/firms/{D}")
    client.get("/api/v1/runs", headers=bearer(token))  # no firm data: not logged
    # then
    text = service_files.audit_log.read_text(encoding="utf-8")
    entries = [json.loads(line) for line in text.splitlines()[before:]]
    assert [(e["path"].rsplit("/", 1)[-1], e["status"]) for e in entries] == [
        ("invitations", 200),
        ("xlsx", 404),
        (A, 200),
        (D, 401),
    ]
    assert entries[0]["who"]["name"] == "广东省工业和信息化厅"
    assert entries[0]["who"]["id"] == token.split(".")[0]
    assert entries[0]["province"] == "44" and "q=" in entries[0]["query"]
    assert entries[1]["province"] == "11"
    assert (entries[2]["firm"], entries[2]["province"]) == (A, "44")
    assert entries[3]["who"] is None
    assert all(e["time"].endswith("+00:00") for e in entries)
    secrets = [getattr(service_files.tokens, n).split(".")[1] for n in ("guangdong", "ministry")]
    assert not any(secret in text for secret in secrets)


def test_responses_are_never_cached(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/invitations", headers=bearer(service_files.tokens.ministry)
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
