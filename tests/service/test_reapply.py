"""The re-application list in the service (issue 24): province isolation, audit, the rows
with their last application, downloads, the page and its links, runs published before it."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from service.app import create_app
from tests.service.conftest import (
    BASE_URL,
    RUN_NEW,
    RUN_OLD,
    SAME_SITE,
    A,
    H,
    Service,
    bearer,
    write_run,
)

API = f"/api/v1/runs/{RUN_NEW}"


def test_a_province_reads_its_own_reapply_list(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/reapply", headers=bearer(service_files.tokens.guangdong)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["run_id"], body["province"], body["total"]) == (RUN_NEW, "44", 1)
    (row,) = body["items"]
    assert row["credit_code"] == H and row["rank"] == 1
    assert (row["last_round"], row["last_outcome"]) == (2024, "rejected")
    assert row["p_qualify"] == 0.61 and row["outcome"] == "eligible"
    assert row["evidence"].startswith("营业收入或股权投资（附件1（二））［a1_2_scale］：")


def test_a_province_without_reapplicants_gets_an_empty_list(
    client: TestClient, service_files: Service
) -> None:
    response = client.get(
        f"{API}/provinces/11/reapply", headers=bearer(service_files.tokens.beijing)
    )
    assert response.status_code == 200 and response.json()["total"] == 0
    download = client.get(
        f"{API}/provinces/11/reapply/download/csv", headers=bearer(service_files.tokens.beijing)
    )
    header = download.content.decode("utf-8-sig").splitlines()
    assert len(header) == 1 and "last_round" in header[0] and "last_outcome" in header[0]


def test_reapplicants_are_never_on_the_invitation_list(
    client: TestClient, service_files: Service
) -> None:
    token = bearer(service_files.tokens.guangdong)
    invited = client.get(f"{API}/provinces/44/invitations", headers=token).json()
    assert H not in {row["credit_code"] for row in invited["items"]}
    again = client.get(f"{API}/provinces/44/reapply", headers=token).json()
    assert A not in {row["credit_code"] for row in again["items"]}


def test_a_province_cannot_see_another_provinces_reapply_list(
    client: TestClient, service_files: Service
) -> None:
    token = bearer(service_files.tokens.beijing)
    for path in (
        f"{API}/provinces/44/reapply",
        f"{API}/provinces/44/reapply/download/csv",
        f"{API}/provinces/44/reapply/download/xlsx",
        "/api/v1/runs/latest/provinces/44/reapply",
        f"{API}/firms/{H}",
    ):
        response = client.get(path, headers=token)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "未找到"} and H not in response.text
    # a province with no published list answers the same
    ministry = bearer(service_files.tokens.ministry)
    assert client.get(f"{API}/provinces/45/reapply", headers=ministry).status_code == 404


def test_the_ministry_reads_every_province(client: TestClient, service_files: Service) -> None:
    token = bearer(service_files.tokens.ministry)
    totals = {
        province: client.get(f"{API}/provinces/{province}/reapply", headers=token).json()["total"]
        for province in ("44", "11")
    }
    assert totals == {"44": 1, "11": 0}


def test_without_a_token_nothing_is_served(client: TestClient, service_files: Service) -> None:
    revoked = bearer(service_files.tokens.revoked)
    for path in (f"{API}/provinces/44/reapply", f"{API}/provinces/44/reapply/download/xlsx"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=revoked).status_code == 401
    page = client.get(f"/runs/{RUN_NEW}/provinces/44/reapply", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_filters_search_and_validation(client: TestClient, service_files: Service) -> None:
    token = bearer(service_files.tokens.guangdong)
    url = f"{API}/provinces/44/reapply"
    assert client.get(url, params={"tier": "little_giant"}, headers=token).json()["total"] == 0
    assert client.get(url, params={"q": "远航"}, headers=token).json()["total"] == 1
    assert client.get(url, params={"q": H[:8]}, headers=token).json()["total"] == 1
    assert client.get(url, params={"outcome": "to_verify"}, headers=token).json()["total"] == 0
    assert client.get(url, params={"tier": "nonsense"}, headers=token).status_code == 422
    assert client.get(f"{url}/download/pdf", headers=token).status_code == 422


def test_excel_download_says_what_the_list_is(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/reapply/download/xlsx",
        headers=bearer(service_files.tokens.guangdong),
    )
    assert response.status_code == 200
    assert "filename*=utf-8''" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
    sheet = book["专精特新中小企业"]
    headers = [cell.value for cell in sheet[1]]
    assert {"上次申报年度", "上次申报结果", "认定概率"} <= set(headers)
    row = dict(zip(headers, [cell.value for cell in sheet[2]], strict=True))
    assert (row["统一社会信用代码"], row["上次申报年度"], row["上次申报结果"]) == (
        H,
        2024,
        "未通过",
    )
    assert (row["梯度层级"], row["初筛结论"]) == ("专精特新中小企业", "达标")
    guide = " ".join(str(c.value) for r in book["说明"].iter_rows() for c in r if c.value)
    assert "再申报名单" in guide and "从不混入邀请名单" in guide and "认定概率" in guide


def test_reapply_requests_are_audited(client: TestClient, service_files: Service) -> None:
    log = service_files.audit_log
    before = log.read_text().count("\n") if log.exists() else 0
    token = bearer(service_files.tokens.guangdong)
    client.get(f"{API}/provinces/44/reapply", headers=token)
    client.get("/api/v1/runs/latest/provinces/11/reapply", headers=token)
    lines = log.read_text(encoding="utf-8").split("\n")[before:-1]
    entries = [json.loads(line) for line in lines]
    assert [(e["province"], e["status"]) for e in entries] == [("44", 200), ("11", 404)]
    assert entries[0]["run_id"] == RUN_NEW
    assert all(e["who"]["name"] == "广东省工业和信息化厅" for e in entries)


def test_the_page_is_linked_from_the_province_page_and_lists_the_rows(
    client: TestClient, service_files: Service
) -> None:
    login = client.post("/login", data={"token": service_files.tokens.guangdong})
    assert login.status_code == 200
    province = client.get(f"/runs/{RUN_NEW}/provinces/44")
    assert f'href="/runs/{RUN_NEW}/provinces/44/reapply"' in province.text
    assert "再申报名单" in province.text and H not in province.text
    run = client.get(f"/runs/{RUN_NEW}")
    assert f'href="/runs/{RUN_NEW}/provinces/44/reapply"' in run.text
    page = client.get(f"/runs/{RUN_NEW}/provinces/44/reapply")
    assert page.status_code == 200
    assert H in page.text and "深圳市远航光电科技有限公司" in page.text
    assert "2024" in page.text and "未通过" in page.text and "61.0%" in page.text
    assert "从不混入邀请名单" in page.text
    assert f"/api/v1/runs/{RUN_NEW}/provinces/44/reapply/download/xlsx" in page.text
    filtered = client.get(f"/runs/{RUN_NEW}/provinces/44/reapply", params={"tier": "little_giant"})
    assert filtered.status_code == 200 and H not in filtered.text
    other = client.get(f"/runs/{RUN_NEW}/provinces/11/reapply")
    assert other.status_code == 404
    client.cookies.clear()


def test_the_firm_page_names_its_reapply_entry(client: TestClient, service_files: Service) -> None:
    token = bearer(service_files.tokens.guangdong)
    detail = client.get(f"{API}/firms/{H}", headers=token)
    assert detail.status_code == 200 and detail.json()["province"] == "44"
    (tier,) = [t for t in detail.json()["tiers"] if t["mode"] == "discovery"]
    assert tier["invitation"] is None
    assert tier["reapply"]["rank"] == 1 and tier["reapply"]["last_outcome"] == "rejected"
    invited = client.get(f"{API}/firms/{A}", headers=token).json()
    assert all(t["reapply"] is None for t in invited["tiers"])
    client.post("/login", data={"token": service_files.tokens.guangdong})
    page = client.get(f"/runs/{RUN_NEW}/firms/{H}")
    assert page.status_code == 200 and 'id="reapply-specialized"' in page.text
    client.cookies.clear()


def test_a_symlinked_reapply_list_is_not_served(client: TestClient, service_files: Service) -> None:
    # given: a re-application file that is a symlink to another province's list
    folder = service_files.runs / RUN_OLD / "reapply"
    link = folder / "45.csv"
    link.symlink_to(folder / "44.csv")
    try:
        from service.run_listing import read_run

        assert "45" not in read_run(service_files.runs / RUN_OLD).reapply_files
    finally:
        link.unlink()


def test_a_run_published_before_reapply_lists_answers_404(
    service_files: Service, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    shutil.rmtree(write_run(runs, RUN_NEW) / "reapply")
    app = create_app(runs, service_files.tokens_file, tmp_path / "audit.jsonl")
    with TestClient(app, base_url=BASE_URL, headers=SAME_SITE) as client:
        token = bearer(service_files.tokens.guangdong)
        assert client.get(f"{API}/provinces/44/reapply", headers=token).status_code == 404
        assert client.get(f"{API}/provinces/44/invitations", headers=token).status_code == 200
        firm = client.get(f"{API}/firms/{A}", headers=token)
        assert firm.status_code == 200
