"""The watch list in the service: province isolation, audit, filters, downloads, the page."""

from __future__ import annotations

import io
import json

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.service.conftest import RUN_NEW, E, G, Service, bearer

API = f"/api/v1/runs/{RUN_NEW}"


def test_a_province_reads_its_own_watch_list(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/watchlist", headers=bearer(service_files.tokens.guangdong)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    (row,) = body["items"]
    assert row["credit_code"] == E
    assert row["article"] and row["evidence"] and row["action"] == "核实后取消认定"
    assert row["new"] == "true"


def test_a_province_cannot_see_another_provinces_watch_list(
    client: TestClient, service_files: Service
) -> None:
    token = bearer(service_files.tokens.guangdong)
    for path in (
        f"{API}/provinces/11/watchlist",
        f"{API}/provinces/11/watchlist/download/csv",
        f"{API}/provinces/11/watchlist/download/xlsx",
        "/api/v1/runs/latest/provinces/11/watchlist",
    ):
        response = client.get(path, headers=token)
        assert response.status_code == 404, path
        assert G not in response.text
    # a province with no published watch list answers the same
    assert client.get(f"{API}/provinces/45/watchlist", headers=token).status_code == 404


def test_the_ministry_reads_every_province(client: TestClient, service_files: Service) -> None:
    token = bearer(service_files.tokens.ministry)
    for province, code in (("44", E), ("11", G)):
        body = client.get(f"{API}/provinces/{province}/watchlist", headers=token).json()
        assert [r["credit_code"] for r in body["items"]] == [code]


def test_without_a_token_nothing_is_served(client: TestClient) -> None:
    assert client.get(f"{API}/provinces/44/watchlist").status_code == 401
    page = client.get(f"/runs/{RUN_NEW}/provinces/44/watchlist", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_filters_by_ground_and_new(client: TestClient, service_files: Service) -> None:
    token = bearer(service_files.tokens.guangdong)
    url = f"{API}/provinces/44/watchlist"
    assert client.get(f"{url}?ground=credit_listing", headers=token).json()["total"] == 1
    assert client.get(f"{url}?ground=moved_out", headers=token).json()["total"] == 0
    assert client.get(f"{url}?new=false", headers=token).json()["total"] == 0
    assert client.get(f"{url}?ground=nonsense", headers=token).status_code == 422


def test_excel_download_has_a_sheet_per_title(client: TestClient, service_files: Service) -> None:
    response = client.get(
        f"{API}/provinces/44/watchlist/download/xlsx",
        headers=bearer(service_files.tokens.guangdong),
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
    sheet = book["专精特新中小企业"]
    assert sheet["A1"].value == "统一社会信用代码" and sheet["A2"].value == E


def test_watch_list_requests_are_audited(client: TestClient, service_files: Service) -> None:
    log = service_files.audit_log
    before = log.read_text().count("\n") if log.exists() else 0
    token = bearer(service_files.tokens.guangdong)
    client.get(f"{API}/provinces/44/watchlist", headers=token)
    client.get(f"{API}/provinces/11/watchlist", headers=token)
    # split on "\n" only: fuzzed queries logged earlier may hold other line separators
    lines = log.read_text(encoding="utf-8").split("\n")[before:-1]
    entries = [json.loads(line) for line in lines]
    assert [(e["province"], e["status"]) for e in entries] == [("44", 200), ("11", 404)]
    assert all(e["who"]["name"] == "广东省工业和信息化厅" for e in entries)


def test_the_page_lists_the_rows_and_hides_other_provinces(
    client: TestClient, service_files: Service
) -> None:
    login = client.post("/login", data={"token": service_files.tokens.beijing})
    assert login.status_code == 200  # the session cookie is set, the redirect followed
    page = client.get(f"/runs/{RUN_NEW}/provinces/11/watchlist")
    assert page.status_code == 200
    assert G in page.text and "第二十条" in page.text and "核实后取消认定" in page.text
    other = client.get(f"/runs/{RUN_NEW}/provinces/44/watchlist")
    assert other.status_code == 404 and E not in other.text
    client.cookies.clear()


def test_latest_is_audited_as_the_run_served(client: TestClient, service_files: Service) -> None:
    log = service_files.audit_log
    before = log.read_text().count("\n") if log.exists() else 0
    token = bearer(service_files.tokens.guangdong)
    assert (
        client.get("/api/v1/runs/latest/provinces/44/watchlist", headers=token).json()["run_id"]
        == RUN_NEW
    )
    lines = log.read_text(encoding="utf-8").split("\n")[before:-1]
    assert [json.loads(line)["run_id"] for line in lines] == [RUN_NEW]


def test_a_symlinked_watch_list_is_not_served(client: TestClient, service_files: Service) -> None:
    # given a watch-list file that is a symlink to another province's list
    folder = service_files.runs / RUN_NEW / "watchlist"
    link = folder / "45.csv"
    link.symlink_to(folder / "44.csv")
    try:
        response = client.get(
            f"{API}/provinces/45/watchlist", headers=bearer(service_files.tokens.ministry)
        )
        # then it answers as if absent, and nothing of the target leaks
        assert response.status_code == 404 and E not in response.text
    finally:
        link.unlink()
