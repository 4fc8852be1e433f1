"""Issue 13: the service as an attacker and a busy ministry would use it.

Sessions held by the server, CSRF on every POST, an audit that cannot be skipped, throttled
logins, run reads that never load a whole run, symlinks not followed, ASCII-only patterns.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from core.row_index import ROW_INDEX_COLUMNS, ROW_INDEX_NUMBERS, row_index_path
from core.run_layout import LIST_COLUMNS
from flows.publication.lists import write_list_csv, write_list_xlsx, write_row_indexes
from service.app import COOKIE_NAME, create_app
from service.config import load_service_config
from service.deps import ApiUser
from service.run_store import ByteCache, RunStore
from service.tokens import issue_token, revoke_token
from tests.service.conftest import (
    BASE_URL,
    RUN_NEW,
    RUN_OLD,
    SAME_SITE,
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    bearer,
    list_row,
    write_run,
)
from zjtx.cli_api import api_app, is_loopback

EVIL = "https://evil.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    home: Path
    runs: Path
    tokens_file: Path
    audit_log: Path
    guangdong: str
    guangdong_id: str
    ministry: str
    clock: Clock

    def app(self, **options: object) -> FastAPI:
        return create_app(
            self.runs,
            self.tokens_file,
            self.audit_log,
            clock=self.clock,
            **options,  # type: ignore[arg-type]
        )

    def audit(self) -> list[dict]:
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A service of its own (tokens are revoked and files broken here)."""
    runs = tmp_path / "runs"
    write_run(runs, RUN_OLD)
    write_run(runs, RUN_NEW)
    os.symlink(RUN_NEW, runs / "latest")
    tokens_file = tmp_path / "service" / "tokens.yaml"
    record, guangdong = issue_token(tokens_file, "province", "44", "广东省工业和信息化厅")
    _, ministry = issue_token(tokens_file, "ministry", None, "工业和信息化部")
    return Site(
        tmp_path,
        runs,
        tokens_file,
        tmp_path / "service" / "audit.jsonl",
        guangdong,
        record.id,
        ministry,
        Clock(),
    )


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app(), base_url=BASE_URL, headers=SAME_SITE) as test_client:
        yield test_client


def log_in(client: TestClient, token: str) -> str:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.cookies[COOKIE_NAME]


# ------------------------------------------------------------------ 1. availability


def test_run_listing_reads_manifests_and_file_names_only(site: Site, client: TestClient) -> None:
    # given: every table of both runs is unreadable (a listing used to load them all)
    for run in (RUN_OLD, RUN_NEW):
        for name in ("candidates.parquet", "cultivation.csv", "renewals.csv"):
            (site.runs / run / name).write_bytes(b"\x00not a table")
        for csv in (site.runs / run / "invitations").glob("*.csv"):
            csv.write_bytes(b"\x00not a table")
    # when
    listing = client.get("/api/v1/runs", headers=bearer(site.ministry))
    page = client.get("/api/v1/runs/latest", headers=bearer(site.guangdong))
    # then
    assert listing.status_code == 200 and [r["run_id"] for r in listing.json()["runs"]] == [
        RUN_NEW,
        RUN_OLD,
    ]
    assert listing.json()["runs"][0]["provinces"] == ["11", "44"]
    assert page.json()["provinces"] == ["44"] and page.json()["funnel"][0]["province"] == "44"


def test_a_firm_page_reads_only_that_firms_candidates(site: Site) -> None:
    # given
    store = RunStore(site.runs, cache_bytes=8 << 20)
    run = store.load("latest")
    assert run is not None
    # when
    rows = store.candidates(run, B)
    # then: only B's rows came back, and the cache holds the file's footer, not its rows
    assert {row["credit_code"] for row in rows} == {B} and len(rows) == 4
    assert store.candidates(run, "91000000000000000X") == []
    assert not any(key[0] == "candidates-rows" for key in store.cache._entries)


def every_answer(client: TestClient, run: str, token: str) -> list[object]:
    """What a reader sees of a run: lists (filtered, sorted, paged), tables and firm pages."""
    paths = [f"/api/v1/runs/{run}/provinces/{p}/invitations" for p in ("11", "44")]
    paths += [f"{paths[1]}?{q}" for q in ("sort=score&order=asc", "q=蓝海", "tier=little_giant")]
    paths += [f"{paths[1]}?page_size=1&page=2", f"{paths[1]}?outcome=to_verify&min_score=0.5"]
    paths += [f"/api/v1/runs/{run}/provinces/{p}/{t}" for p in ("11", "44") for t in TABLES]
    paths += [f"/api/v1/runs/{run}/firms/{code}" for code in (A, B, C, D, E, F, G)]
    answers: list[object] = []
    for path in paths:
        response = client.get(path, headers=bearer(token))
        answers.append((path.replace(run, "RUN"), response.status_code, _without_run(response)))
    return answers


TABLES = ("cultivation", "renewals")


def _without_run(response: object) -> object:
    body = response.json()  # type: ignore[attr-defined]
    return {k: v for k, v in body.items() if k != "run_id"} if isinstance(body, dict) else body


def test_pages_read_through_the_row_index_match_the_whole_files(
    site: Site, client: TestClient
) -> None:
    # given: the same lists in two runs, one published with row indexes, one before them
    write_row_indexes(site.runs / RUN_NEW)
    assert row_index_path(site.runs / RUN_NEW, site.runs / RUN_NEW / "renewals.csv").is_file()
    # when
    indexed = every_answer(client, RUN_NEW, site.ministry)
    whole = every_answer(client, RUN_OLD, site.ministry)
    # then: the same answers, and a page found its rows' text in the CSV
    assert indexed == whole
    first = indexed[1][2]["items"][0]  # type: ignore[index]
    assert first["rank"] == 1 and first["evidence"].startswith(
        "营业收入或股权投资（附件1（二））［a1_2_scale］："
    )


def test_the_cache_holds_row_indexes_not_the_lists_text(site: Site) -> None:
    write_row_indexes(site.runs / RUN_NEW)
    store = RunStore(site.runs)
    run = store.load(RUN_NEW)
    assert run is not None
    listed = store.invitations(run, "44")
    held = set(listed.index.column_names) - {"province", "_offset", "_length"}
    assert held <= set(ROW_INDEX_COLUMNS) and "evidence" not in held and "reasons" not in held
    (first,) = listed.rows([0])
    assert first["evidence"].startswith("营业收入或股权投资（附件1（二））［a1_2_scale］：")


def test_rows_read_by_their_spans_equal_the_whole_file_read_by_pandas(site: Site) -> None:
    # given: a list with line feeds, quotes, a formula-like name and empty numbers
    run = site.runs / RUN_NEW
    rows = [
        list_row(r, code, "440305", "specialized", "eligible", 0.5) for r, code in ((1, A), (2, B))
    ]
    rows[0]["evidence"] = '第一行\n第二行，"引号"，末尾'
    rows[1]["name"] = '=HYPERLINK("http://evil.example","点此")'
    rows[1]["p_apply"] = None
    write_list_csv(pd.DataFrame(rows)[LIST_COLUMNS], run / "invitations" / "44.csv")
    write_row_indexes(run)
    # when
    store = RunStore(site.runs)
    listed = store.invitations(store.load(RUN_NEW), "44")  # type: ignore[arg-type]
    read = listed.rows(range(len(listed)))
    # then: exactly what reading the whole file with pandas gives
    whole = pd.read_csv(
        run / "invitations" / "44.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    for column in set(ROW_INDEX_NUMBERS) - {"rank"}:
        whole[column] = pd.to_numeric(whole[column], errors="coerce").astype(object)
    whole["rank"] = whole["rank"].astype(int).astype(object)
    expected = whole.where(whole.notna(), None).to_dict(orient="records")
    assert [{k: row[k] for k in LIST_COLUMNS} for row in read] == [
        {k: row[k] for k in LIST_COLUMNS} for row in expected
    ]
    assert read[1]["p_apply"] is None and read[1]["name"].startswith("'=HYPERLINK")


def test_a_row_index_that_does_not_describe_its_file_is_not_used(
    site: Site, client: TestClient
) -> None:
    # given: an index written, then the list replaced by a different one (one firm only)
    run = site.runs / RUN_NEW
    write_row_indexes(run)
    only = pd.DataFrame([list_row(1, B, "440306", "specialized", "eligible", 0.5)])
    write_list_csv(only[LIST_COLUMNS], run / "invitations" / "44.csv")
    # when
    page = client.get(
        f"/api/v1/runs/{RUN_NEW}/provinces/44/invitations", headers=bearer(site.ministry)
    )
    # then: the file is read as it is
    assert [row["credit_code"] for row in page.json()["items"]] == [B]
    assert page.json()["items"][0]["evidence"].startswith(
        "营业收入或股权投资（附件1（二））［a1_2_scale］："
    )


def test_a_firm_spanning_row_groups_gets_all_its_rows(site: Site) -> None:
    # given: candidates sorted by credit code in row groups of 3 rows (firms span groups)
    path = site.runs / RUN_NEW / "candidates.parquet"
    table = pd.read_parquet(path).sort_values("credit_code", kind="stable")
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=3)
    store = RunStore(site.runs)
    run = store.load(RUN_NEW)
    assert run is not None
    # when / then: each firm's rows exactly, found by binary search over the groups
    for code in (*table["credit_code"].unique(), "91000000000000000X", "0"):
        rows = store.candidates(run, code)
        expected = table[table["credit_code"] == code]
        assert [r["criterion"] for r in rows] == expected["criterion"].tolist()
    assert store.cache.get(("candidates", path), lambda: (None, 0)).ordered


def test_a_page_rendered_once_is_still_checked_and_audited_for_every_reader(
    site: Site, client: TestClient
) -> None:
    # given: the ministry has read a Guangdong firm and a Beijing list page (both now rendered)
    _, beijing = issue_token(site.tokens_file, "province", "11", "北京市经济和信息化局")
    firm = f"/api/v1/runs/latest/firms/{A}"
    page = "/api/v1/runs/latest/provinces/11/invitations?page=1"
    first = client.get(firm, headers=bearer(site.ministry))
    assert client.get(page, headers=bearer(site.ministry)).status_code == 200
    # when: province tokens ask for the same pages
    own = client.get(firm, headers=bearer(site.guangdong))
    other = client.get(firm, headers=bearer(beijing))
    foreign_list = client.get(page, headers=bearer(site.guangdong))
    # then: the same answer to whoever may read it, 404 to whoever may not, each one audited
    assert first.status_code == own.status_code == 200 and first.content == own.content
    assert other.status_code == 404 and foreign_list.status_code == 404
    reads = [e for e in site.audit() if e["firm"] == A]
    assert [(e["status"], e["province"], e["run_id"]) for e in reads] == [
        (200, "44", RUN_NEW),
        (200, "44", RUN_NEW),
        (404, "44", RUN_NEW),
    ]


def test_cache_is_bounded_by_bytes() -> None:
    cache = ByteCache(max_bytes=100)
    for key in range(5):
        cache.get(key, lambda k=key: (f"value {k}", 40))
    assert cache.size <= 100 and list(cache._entries) == [3, 4]
    assert cache.get(4, lambda: ("reloaded", 40)) == "value 4"  # a hit, not a load


def test_concurrent_requests_load_a_run_once() -> None:
    cache = ByteCache(max_bytes=1 << 20)
    started = threading.Barrier(16)
    results: list[str] = []

    def slow_load() -> tuple[str, int]:
        time.sleep(0.3)
        return "run", 10

    def ask() -> None:
        started.wait()
        results.append(cache.get("run", slow_load))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["run"] * 16 and cache.loads == 1


# ------------------------------------------------------------------ 2. sessions


def test_the_cookie_is_a_session_id_and_logout_ends_it_on_the_server(
    site: Site, client: TestClient
) -> None:
    # given
    session = log_in(client, site.guangdong)
    assert site.guangdong not in session and site.guangdong.split(".")[1] not in session
    assert client.get("/").status_code == 200
    # when
    client.post("/logout", follow_redirects=False)
    # then: the same cookie value, replayed, no longer opens anything
    with TestClient(client.app, base_url=BASE_URL) as replay:
        replay.cookies.set(COOKIE_NAME, session)
        assert replay.get("/", follow_redirects=False).headers["location"] == "/login"
        assert replay.get("/api/v1/me").status_code == 401


def test_a_session_ends_after_eight_hours_on_the_server(site: Site, client: TestClient) -> None:
    session = log_in(client, site.guangdong)
    site.clock.now += 8 * 3600 - 1
    assert client.get("/").status_code == 200
    site.clock.now += 1
    client.cookies.set(COOKIE_NAME, session)  # a browser that ignores Max-Age
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert load_service_config().sessions.lifetime_hours == 8


def test_a_session_stops_when_its_token_is_revoked(site: Site, client: TestClient) -> None:
    log_in(client, site.guangdong)
    assert client.get("/api/v1/me").status_code == 200
    revoke_token(site.tokens_file, site.guangdong_id)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303
    refused = site.audit()[-1]  # the login, then this refusal (a redirect is not logged)
    assert (refused["status"], refused["presented"]) == (401, site.guangdong_id)


def test_cookie_is_secure_and_hsts_is_sent_by_default(site: Site, client: TestClient) -> None:
    response = client.post("/login", data={"token": site.guangdong}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "Max-Age=28800" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")
    with TestClient(site.app(secure_cookie=False), headers=SAME_SITE) as plain:
        response = plain.post("/login", data={"token": site.guangdong}, follow_redirects=False)
        assert "Secure" not in response.headers["set-cookie"]
        assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "service.example", "::"])
def test_cli_refuses_a_network_address_without_secure_cookies(tmp_path: Path, host: str) -> None:
    result = CliRunner().invoke(
        api_app,
        ["serve", "--host", host, "--no-secure-cookie", "--tokens", str(tmp_path / "t.yaml")],
    )
    assert result.exit_code == 2 and "--insecure-http" in result.output
    assert result.output.count("\n") == 1


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org"))


# ------------------------------------------------------------------ 3. CSRF, failed logins


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": BASE_URL},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": f"{EVIL}/page"},
        {},
    ],
)
def test_login_from_another_site_is_refused(site: Site, headers: dict[str, str]) -> None:
    with TestClient(site.app(), base_url=BASE_URL) as client:
        response = client.post(
            "/login", data={"token": site.guangdong}, headers=headers, follow_redirects=False
        )
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert site.audit()[-1]["status"] == 403


@pytest.mark.parametrize(
    "headers",
    [{"Origin": BASE_URL}, {"Sec-Fetch-Site": "same-origin"}, {"Referer": f"{BASE_URL}/login"}],
)
def test_login_from_our_own_page_is_accepted(site: Site, headers: dict[str, str]) -> None:
    with TestClient(site.app(), base_url=BASE_URL) as client:
        response = client.post(
            "/login", data={"token": site.guangdong}, headers=headers, follow_redirects=False
        )
    assert response.status_code == 303


def test_every_post_route_of_any_router_is_csrf_checked_and_audited(site: Site) -> None:
    # given: a router from another module (as the match review page adds)
    router = APIRouter()

    @router.post("/review/{credit_code}")
    def decide(request: Request, credit_code: str, user: ApiUser) -> dict[str, str]:
        return {"decided": credit_code, "by": user.token_id}

    with TestClient(site.app(routers=[router]), base_url=BASE_URL) as client:
        # when
        forged = client.post(f"/review/{A}", headers={**bearer(site.ministry), "Origin": EVIL})
        honest = client.post(f"/review/{A}", headers={**bearer(site.ministry), **SAME_SITE})
    # then
    assert forged.status_code == 403 and honest.status_code == 200
    assert [(e["path"], e["status"]) for e in site.audit()] == [
        (f"/review/{A}", 403),
        (f"/review/{A}", 200),
    ]


def test_failed_logins_are_audited_and_throttled_per_client(site: Site) -> None:
    limit = load_service_config().login.max_failures
    with TestClient(site.app(), base_url=BASE_URL, headers=SAME_SITE) as client:
        forged = f"{site.guangdong_id}.wrong-secret"
        for _ in range(limit):
            assert client.post("/login", data={"token": forged}).status_code == 401
        # the next attempt is refused unseen, even with the right token
        blocked = client.post("/login", data={"token": site.guangdong}, follow_redirects=False)
        assert blocked.status_code == 429 and "set-cookie" not in blocked.headers
        # the window passes
        site.clock.now += load_service_config().login.window_seconds
        assert log_in(client, site.guangdong)
    entries = site.audit()
    failed = [e for e in entries if e["event"] == "login_failed"]
    assert len(failed) == limit and failed[0]["presented"] == site.guangdong_id
    assert failed[0]["client"] == "testclient" and failed[0]["status"] == 401
    assert [e["event"] for e in entries[limit:]] == ["login_throttled", "login"]
    assert "wrong-secret" not in site.audit_log.read_text()


# ------------------------------------------------------------------ 4. audit


def test_audit_names_the_run_served_the_client_and_the_token_presented(
    site: Site, client: TestClient
) -> None:
    client.get(f"/api/v1/runs/latest/firms/{A}", headers=bearer(site.guangdong))
    client.get("/api/v1/runs", headers=bearer(f"{site.guangdong_id}.forged"))
    client.get("/api/v1/me", headers=bearer("nonsense-without-an-id"))
    firm, forged, nonsense = site.audit()
    assert (firm["run_id"], firm["province"], firm["status"]) == (RUN_NEW, "44", 200)
    assert firm["client"] == "testclient" and firm["who"]["id"] == site.guangdong_id
    assert (forged["status"], forged["presented"], forged["who"]) == (401, site.guangdong_id, None)
    assert (nonsense["status"], nonsense["presented"]) == (401, None)
    assert stat.S_IMODE(site.audit_log.stat().st_mode) == 0o600


def test_no_data_is_served_when_the_audit_line_cannot_be_written(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the audit log cannot be written (a directory where the file should be)
    site.audit_log.mkdir(parents=True)
    with TestClient(site.app(), base_url=BASE_URL) as client, caplog.at_level(logging.ERROR):
        # when
        listing = client.get(
            "/api/v1/runs/latest/provinces/44/invitations", headers=bearer(site.guangdong)
        )
        download = client.get(
            "/api/v1/runs/latest/provinces/44/download/csv", headers=bearer(site.guangdong)
        )
    # then
    assert listing.status_code == 503 and "深圳" not in listing.text
    assert download.status_code == 503 and "深圳" not in download.text
    assert "cannot write audit log" in caplog.text


# ------------------------------------------------------------------ 6. formula injection


def test_a_formula_named_firm_is_published_and_served_as_text(
    site: Site, client: TestClient
) -> None:
    # given: a run whose list names a hostile firm (and one with a control character)
    folder = site.runs / RUN_NEW / "invitations"
    hostile = pd.DataFrame(
        [
            list_row(1, A, "440305", "specialized", "eligible", 0.9),
            list_row(2, B, "440306", "specialized", "eligible", 0.8),
        ]
    )
    hostile["name"] = ['=HYPERLINK("http://evil.example","点此")', "蓝海\x01精密"]
    write_list_csv(hostile[LIST_COLUMNS], folder / "44.csv")
    write_list_xlsx(hostile[LIST_COLUMNS], folder / "44.xlsx")
    # when
    xlsx = client.get(
        "/api/v1/runs/latest/provinces/44/download/xlsx", headers=bearer(site.guangdong)
    )
    csv = client.get(
        "/api/v1/runs/latest/provinces/44/download/csv", headers=bearer(site.guangdong)
    )
    # then
    cell = load_workbook(io.BytesIO(xlsx.content))["专精特新中小企业"]["C2"]
    assert (cell.data_type, cell.value) == ("s", '=HYPERLINK("http://evil.example","点此")')
    assert "'=HYPERLINK(" in csv.text and "\x01" not in csv.text and "蓝海精密" in csv.text


# ------------------------------------------------------------------ 7. smaller


def test_a_malformed_tokens_file_is_a_handled_503_and_healthz_says_so(
    site: Site, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    site.tokens_file.write_text("tokens: [{id: 1", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="zjtx.service"):
        api = client.get("/api/v1/me", headers=bearer(site.guangdong))
        page = client.post("/login", data={"token": site.guangdong})
        health = client.get("/healthz")
    assert api.status_code == 503 and api.json()["detail"].startswith("服务暂不可用")
    assert page.status_code == 503 and "<html" in page.text
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "tokens.yaml" in health.json()["tokens"]
    assert "tokens file unusable" in caplog.text


def test_symlinks_inside_a_run_are_not_followed(site: Site, client: TestClient) -> None:
    # given: a list file and the candidates replaced by links to files outside the run
    secret = site.home / "secret.csv"
    secret.write_text("rank,credit_code,name\n1,X,机密\n", encoding="utf-8")
    folder = site.runs / RUN_NEW / "invitations"
    (folder / "44.xlsx").unlink()
    (folder / "44.xlsx").symlink_to(secret)
    (folder / "12.csv").symlink_to(secret)
    (site.runs / RUN_NEW / "candidates.parquet").unlink()
    (site.runs / RUN_NEW / "candidates.parquet").symlink_to(
        site.runs / RUN_OLD / "candidates.parquet"
    )
    (site.runs / "20990101-linked").symlink_to(site.runs / RUN_OLD)
    token = bearer(site.ministry)
    # then
    assert (
        client.get("/api/v1/runs/latest/provinces/44/download/xlsx", headers=token).status_code
        == 404
    )
    assert (
        client.get("/api/v1/runs/latest/provinces/12/download/csv", headers=token).status_code
        == 404
    )
    assert client.get("/api/v1/runs/latest", headers=token).json()["provinces"] == ["11", "44"]
    assert client.get(f"/api/v1/runs/latest/firms/{B}", headers=token).json()["tiers"] == []
    assert client.get("/api/v1/runs/20990101-linked", headers=token).status_code == 404
    runs = client.get("/api/v1/runs", headers=token).json()["runs"]
    assert [r["run_id"] for r in runs] == [RUN_NEW, RUN_OLD]


@pytest.mark.parametrize("province", ["٤٤", "４４", "4４"])
def test_province_patterns_take_ascii_digits_only(
    site: Site, client: TestClient, province: str
) -> None:
    response = client.get(
        f"/api/v1/runs/latest/provinces/{province}/invitations", headers=bearer(site.ministry)
    )
    assert response.status_code == 422
    folder = site.runs / RUN_NEW / "invitations"
    (folder / f"{province}.csv").write_bytes((folder / "44.csv").read_bytes())
    assert "44" in RunStore(site.runs).load(RUN_NEW).list_files  # type: ignore[union-attr]
    assert province not in RunStore(site.runs).load(RUN_NEW).list_files  # type: ignore[union-attr]
    result = CliRunner().invoke(
        api_app,
        ["token", "add", "--role", "province", "--province", province, "--name", "x",
         "--tokens", str(site.tokens_file)],
    )  # fmt: skip
    assert result.exit_code == 2


def test_nested_loads_under_the_load_bound_never_wait_for_themselves() -> None:
    # given: one load slot, and a value whose load needs another value (table → directory)
    cache = ByteCache(max_bytes=1 << 20, max_concurrent_loads=1)

    def outer() -> tuple[str, int]:
        return cache.get("inner", lambda: ("inner", 1)) + " and outer", 1

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("outer", outer))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["inner and outer"] * 4 and cache.loads == 2
