"""The match review page (issue 14): who sees which mention, decisions recorded and audited,
and — in Chromium — a decision made in the browser changes the next run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from features.match_decisions import DecisionStore, DecisionStoreError
from service.app import COOKIE_NAME
from service.audit import AuditLogError
from tests.service.conftest import BASE_URL, Service
from tests.service.review_world import (
    GUANGDONG_MENTION,
    GUANGZHOU,
    MINISTRY_MENTION,
    REVIEW_RUN,
    SHENZHEN,
    ReviewWorld,
    make_review_app,
    make_world,
)

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewWorld:
    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "home"))
    return make_world(tmp_path)


@pytest.fixture
def review_app(world: ReviewWorld, service_files: Service) -> FastAPI:
    return make_review_app(world, service_files.tokens_file)


@pytest.fixture
def review_client(review_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(review_app, base_url=BASE_URL) as client:
        yield client


def _login(client: TestClient, token: str) -> None:
    """A browser session (the cookie holds a session id, not the token)."""
    answer = client.post(
        "/login", data={"token": token}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert answer.status_code == 303 and COOKIE_NAME in answer.cookies


def test_province_official_sees_own_mentions_ministry_sees_cross_province(
    review_client: TestClient, service_files: Service
) -> None:
    # given a Guangdong official
    _login(review_client, service_files.tokens.guangdong)
    # then only the mention whose candidates are all in Guangdong, with candidates side by side
    page = review_client.get("/review").text
    assert GUANGDONG_MENTION in page and MINISTRY_MENTION not in page
    assert "深圳市华芯微电子有限公司" in page and "广州市华芯微电子有限公司" in page
    assert "一种芯片封装结构" in page  # the patent title as context
    assert "2015-03-01" in page and "C3973" in page  # established date, industry
    # Beijing sees neither (one candidate in Shanghai: the ministry's)
    _login(review_client, service_files.tokens.beijing)
    page = review_client.get("/review").text
    assert GUANGDONG_MENTION not in page and MINISTRY_MENTION not in page
    # the ministry sees both
    _login(review_client, service_files.tokens.ministry)
    page = review_client.get("/review").text
    assert GUANGDONG_MENTION in page and MINISTRY_MENTION in page
    # the page's title is its name, and the decided list is in the page's body, once
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("名称匹配复核") and "<" not in title
    assert page.count('id="decided"') == 1


def _key_of(world: ReviewWorld, raw_name: str) -> str:
    queue = pd.read_csv(world.run / "match_review.csv", dtype=str)
    return str(queue.loc[queue["raw_name"] == raw_name, "mention_key"].iloc[0])


def _token_id(token: str) -> str:
    return token.partition(".")[0]


def _decide(client: TestClient, key: str, decision: str, **extra: str) -> Response:
    data = {"decision": decision, **extra}
    return client.post(f"/review/{key}", data=data, headers=SAME_ORIGIN, follow_redirects=False)


def _store(world: ReviewWorld) -> DecisionStore:
    return DecisionStore(world.home / "matching" / "decisions.sqlite")


def _audit_lines(world: ReviewWorld) -> list[dict]:
    text = (world.home / "service" / "audit.jsonl").read_text()
    return [json.loads(x) for x in text.splitlines()]


def test_confirm_records_audits_and_leaves_the_queue(
    review_client: TestClient, world: ReviewWorld, service_files: Service
) -> None:
    # given the Guangdong official and the Guangdong mention
    _login(review_client, service_files.tokens.guangdong)
    key = _key_of(world, GUANGDONG_MENTION)
    # when they confirm the Shenzhen firm, and confirm again on the page that names it
    asked = _decide(review_client, key, SHENZHEN)
    assert asked.status_code == 200 and "深圳市华芯微电子有限公司" in asked.text
    assert 'name="confirm" value="1"' in asked.text and _store(world).current().empty
    answer = _decide(review_client, key, SHENZHEN, confirm="1")
    # then it is recorded with who decided, in which role and province, for which run
    assert answer.status_code == 303
    (decision,) = _store(world).current().itertuples()
    assert (decision.mention_key, decision.credit_code) == (key, SHENZHEN)
    assert decision.decided_by == "广东省工业和信息化厅" and decision.channel == "service"
    assert decision.decider_id == _token_id(service_files.tokens.guangdong)
    assert (decision.role, decision.province, decision.action) == ("province", "44", "decide")
    assert decision.run_id == REVIEW_RUN
    # audited, and gone from the queue, listed among the decisions that can be undone
    (entry,) = [x for x in _audit_lines(world) if x.get("event") == "match_decision"]
    assert entry["firm"] == SHENZHEN and entry["who"]["province"] == "44"
    assert entry["run_id"] == REVIEW_RUN and entry["role"] == "province"
    page = review_client.get("/review").text
    assert 'class="mention"' not in page
    assert 'class="decided"' in page and "广东省工业和信息化厅" in page and "撤销" in page


def test_linking_decision_without_confirmation_is_not_recorded(
    review_client: TestClient, world: ReviewWorld, service_files: Service
) -> None:
    _login(review_client, service_files.tokens.guangdong)
    key = _key_of(world, GUANGDONG_MENTION)
    # a post that names a firm without confirm=1 (e.g. a script, or JavaScript off) only asks
    for extra in ({}, {"confirm": "0"}, {"confirm": ""}):
        answer = _decide(review_client, key, SHENZHEN, **extra)
        assert answer.status_code == 200 and "确认记录" in answer.text
    assert _store(world).history().empty
    assert GUANGDONG_MENTION in review_client.get("/review").text
    # "none of these" links nothing: recorded at once
    assert _decide(review_client, key, "none").status_code == 303
    assert list(_store(world).current()["credit_code"]) == ["none"]


def test_a_second_decision_is_refused_with_409_not_500(
    review_client: TestClient,
    world: ReviewWorld,
    service_files: Service,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _key_of(world, GUANGDONG_MENTION)
    _login(review_client, service_files.tokens.guangdong)
    assert _decide(review_client, key, "none").status_code == 303
    # the ministry, whose page still showed the mention, decides it too
    _login(review_client, service_files.tokens.ministry)
    answer = _decide(review_client, key, SHENZHEN, confirm="1")
    assert answer.status_code == 409
    assert "本次结论未记录" in answer.text and 'id="review-notice"' in answer.text
    answer = review_client.post(
        f"/review/{key}",
        data={"decision": "none"},
        headers={**SAME_ORIGIN, "Accept": "application/json"},
    )
    assert answer.status_code == 409 and "本次结论未记录" in answer.json()["detail"]
    # a true race: both passed the check, the store's transaction refuses the second
    monkeypatch.setattr(DecisionStore, "in_force", lambda self, key: None)
    answer = _decide(review_client, key, SHENZHEN, confirm="1")
    assert answer.status_code == 409 and "本次结论未记录" in answer.text
    assert list(_store(world).history()["credit_code"]) == ["none"]


def test_store_or_audit_failure_is_503_and_records_nothing(
    review_client: TestClient,
    world: ReviewWorld,
    service_files: Service,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _key_of(world, GUANGDONG_MENTION)
    _login(review_client, service_files.tokens.guangdong)

    def audit_fails(*args: object) -> dict:
        raise AuditLogError("disk full")

    monkeypatch.setattr("service.review.audit_entry", audit_fails)
    answer = _decide(review_client, key, SHENZHEN, confirm="1")
    assert answer.status_code == 503 and "审计日志无法写入" in answer.text
    assert _store(world).history().empty
    monkeypatch.undo()

    def store_fails(*args: object, **kwargs: object) -> None:
        raise DecisionStoreError("decisions store: database is locked")

    monkeypatch.setattr(DecisionStore, "record", store_fails)
    answer = _decide(review_client, key, "none")
    assert answer.status_code == 503 and "复核库暂时无法读写" in answer.text
    assert _store(world).history().empty


def _undo(client: TestClient, key: str) -> Response:
    return client.post(f"/review/{key}/undo", headers=SAME_ORIGIN, follow_redirects=False)


def test_undo_by_the_deciding_province_and_by_the_ministry(
    review_client: TestClient, world: ReviewWorld, service_files: Service
) -> None:
    key = _key_of(world, GUANGDONG_MENTION)
    tokens = service_files.tokens
    # given Guangdong's decision
    _login(review_client, tokens.guangdong)
    assert _decide(review_client, key, SHENZHEN, confirm="1").status_code == 303
    # a cross-site undo is refused
    cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert review_client.post(f"/review/{key}/undo", headers=cross).status_code == 403
    # when Guangdong undoes it: audited, recorded with who, and the mention is pending again
    assert _undo(review_client, key).status_code == 303
    assert _store(world).current().empty
    undone = _store(world).history().iloc[-1]
    assert (undone["action"], undone["province"], undone["role"]) == ("undo", "44", "province")
    assert undone["decider_id"] == _token_id(tokens.guangdong)
    assert undone["run_id"] == REVIEW_RUN and undone["raw_name"] == GUANGDONG_MENTION
    actions = [x["action"] for x in _audit_lines(world) if x.get("event") == "match_decision"]
    assert actions == ["decide", "undo"]
    page = review_client.get("/review?done=undone").text
    assert GUANGDONG_MENTION in page and "重新进入待复核队列" in page
    # undoing again: nothing in force
    assert _undo(review_client, key).status_code == 404
    # Guangdong decides again; Beijing may not undo it (another province's: not even found)
    assert _decide(review_client, key, "none").status_code == 303
    _login(review_client, tokens.beijing)
    assert _undo(review_client, key).status_code == 404
    assert GUANGDONG_MENTION not in review_client.get("/review").text
    # the ministry may
    _login(review_client, tokens.ministry)
    assert GUANGDONG_MENTION in review_client.get("/review").text  # listed as decided
    assert _undo(review_client, key).status_code == 303
    assert _store(world).history().iloc[-1]["role"] == "ministry"
    # the ministry decides it; Guangdong sees it is its mention but may not undo that
    assert _decide(review_client, key, "none").status_code == 303
    _login(review_client, tokens.guangdong)
    answer = _undo(review_client, key)
    assert answer.status_code == 403 and "仅部级或作出该结论的省份" in answer.text
    assert len(_store(world).current()) == 1


def test_supersede_needs_confirmation_and_the_right_to_change(
    review_client: TestClient, world: ReviewWorld, service_files: Service
) -> None:
    key = _key_of(world, GUANGDONG_MENTION)
    _login(review_client, service_files.tokens.guangdong)
    assert _decide(review_client, key, SHENZHEN, confirm="1").status_code == 303
    url = f"/review/{key}/supersede"
    asked = review_client.post(url, data={"decision": GUANGZHOU}, headers=SAME_ORIGIN)
    assert asked.status_code == 200 and "广州市华芯微电子有限公司" in asked.text
    assert _store(world).current()["credit_code"].tolist() == [SHENZHEN]
    answer = review_client.post(
        url,
        data={"decision": GUANGZHOU, "confirm": "1"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    (current,) = _store(world).current().itertuples()
    assert (current.credit_code, current.action) == (GUANGZHOU, "supersede")
    _login(review_client, service_files.tokens.beijing)
    answer = review_client.post(url, data={"decision": "none"}, headers=SAME_ORIGIN)
    assert answer.status_code == 404


def test_refusals(review_client: TestClient, world: ReviewWorld, service_files: Service) -> None:
    guangdong_key = _key_of(world, GUANGDONG_MENTION)
    ministry_key = _key_of(world, MINISTRY_MENTION)
    _login(review_client, service_files.tokens.guangdong)
    # a cross-site post is refused
    cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    answer = review_client.post(
        f"/review/{guangdong_key}", data={"decision": "none"}, headers=cross
    )
    assert answer.status_code == 403
    # another province's (here: the ministry's) mention is not found
    answer = review_client.post(
        f"/review/{ministry_key}", data={"decision": "none"}, headers=SAME_ORIGIN
    )
    assert answer.status_code == 404
    # a firm that is not a candidate is refused
    answer = review_client.post(
        f"/review/{guangdong_key}", data={"decision": "91110108MA0110003X"}, headers=SAME_ORIGIN
    )
    assert answer.status_code == 422
    assert _store(world).history().empty


# ---------------------------------------------------------------------------------------------
# In Chromium, and the next run


def _criteria(world: ReviewWorld, out: Path) -> pd.DataFrame:
    from zjtx.cli import app

    result = CliRunner().invoke(
        app, ["criteria", "--data", str(world.data), "--as-of", "2026-06-30", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str)
    rows = frame[
        (frame["credit_code"] == SHENZHEN)
        & (frame["criterion"] == "a1_4_ip")
        & (frame["mode"] == "discovery")
    ]
    return rows.iloc[0]


def _match(world: ReviewWorld, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from zjtx.cli import app

    result = CliRunner().invoke(app, ["match", "--data", str(world.data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, dtype=str), pd.read_csv(out.with_name(f"{out.stem}.review.csv"))


@pytest.mark.e2e
def test_browser_decision_changes_the_next_run(
    review_app: FastAPI, world: ReviewWorld, service_files: Service, tmp_path: Path
) -> None:
    from tests.service.test_browser import CHROMIUM, self_signed, serve

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: run service/install-browser.sh")
    from playwright.sync_api import sync_playwright

    # given the run before any decision: the patent is nobody's, the mention is pending
    before = _criteria(world, tmp_path / "before.csv")
    links, queue = _match(world, tmp_path / "before-links.csv")
    assert GUANGDONG_MENTION in set(queue["raw_name"])

    # when the Guangdong official confirms the Shenzhen firm in the browser
    with serve(review_app, self_signed(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_context(locale="zh-CN", ignore_https_errors=True).new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{url}/login")
            page.fill("input[name=token]", service_files.tokens.guangdong)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.click("#review-link")
            page.wait_for_url(f"{url}/review")
            mentions = page.locator("section.mention")
            assert mentions.count() == 1
            assert GUANGDONG_MENTION in mentions.first.inner_text()
            page.click(f"section.mention button.confirm[data-code='{SHENZHEN}']")
            assert SHENZHEN in page.inner_text("#confirm-code")  # asked to confirm first
            page.click("#confirm-decision")
            page.wait_for_url(f"{url}/review?done=decided")
            # then it is gone from the queue
            assert page.locator("section.mention").count() == 0
            assert page.locator("#review-empty").is_visible()
        finally:
            browser.close()

    # and the next run links the mention, the criterion it supplies changes, the queue is shorter
    links, queue_after = _match(world, tmp_path / "after-links.csv")
    decided = links[links["raw_name"] == GUANGDONG_MENTION].iloc[0]
    assert (decided["method"], decided["credit_code"]) == ("decision", SHENZHEN)
    assert len(queue_after) == len(queue) - 1
    assert GUANGDONG_MENTION not in set(queue_after["raw_name"])
    after = _criteria(world, tmp_path / "after.csv")
    # Annex 1 (四): the confirmed patent is the firm's one class-I IP
    assert before["verdict"] == "unknown" and "I类知识产权 0项" in before["evidence"]
    assert after["verdict"] == "pass" and "I类知识产权 1项 ≥ 1项" in after["evidence"]


def test_the_queue_is_parsed_once_per_file_version(tmp_path: Path) -> None:
    # issue 28: a page view does not parse the national queue again
    from service.review import _parsed

    path = tmp_path / "match_review.csv"
    path.write_text("mention_key,candidate_regions\nk,440305\n", encoding="utf-8")
    reads: list[Path] = []

    def read(p: Path) -> pd.DataFrame:
        reads.append(p)
        return pd.read_csv(p, dtype=str)

    first = _parsed(path, read)
    assert _parsed(path, read) is first and len(reads) == 1
    path.write_text("mention_key,candidate_regions\nk,440305\nj,110108\n", encoding="utf-8")
    assert len(_parsed(path, read)) == 2 and len(reads) == 2  # a new version is read again
