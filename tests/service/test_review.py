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
from typer.testing import CliRunner

from features.match_decisions import DecisionStore
from service.app import COOKIE_NAME, create_app
from tests.service.conftest import BASE_URL, Service
from tests.service.review_world import (
    GUANGDONG_MENTION,
    MINISTRY_MENTION,
    SHENZHEN,
    ReviewWorld,
    publish_review_run,
    write_data,
)

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewWorld:
    home = tmp_path / "home"
    monkeypatch.setenv("ZJTX_HOME", str(home))
    data = write_data(tmp_path / "data")
    runs = home / "runs"
    run = publish_review_run(data, runs)
    return ReviewWorld(home=home, data=data, runs=runs, run=run)


@pytest.fixture
def review_app(world: ReviewWorld, service_files: Service) -> FastAPI:
    return create_app(
        world.runs,
        service_files.tokens_file,
        world.home / "service" / "audit.jsonl",
        decisions_file=world.home / "matching" / "decisions.sqlite",
    )


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


def _key_of(world: ReviewWorld, raw_name: str) -> str:
    queue = pd.read_csv(world.run / "match_review.csv", dtype=str)
    return str(queue.loc[queue["raw_name"] == raw_name, "mention_key"].iloc[0])


def test_confirm_records_audits_and_leaves_the_queue(
    review_client: TestClient, world: ReviewWorld, service_files: Service
) -> None:
    # given the Guangdong official and the Guangdong mention
    _login(review_client, service_files.tokens.guangdong)
    key = _key_of(world, GUANGDONG_MENTION)
    # when they confirm the Shenzhen firm
    answer = review_client.post(
        f"/review/{key}", data={"decision": SHENZHEN}, headers=SAME_ORIGIN, follow_redirects=False
    )
    # then it is recorded, audited, and gone from the queue
    assert answer.status_code == 303
    (decision,) = DecisionStore(world.home / "matching" / "decisions.sqlite").current().itertuples()
    assert (decision.mention_key, decision.credit_code) == (key, SHENZHEN)
    assert decision.decided_by == "广东省工业和信息化厅" and decision.channel == "service"
    lines = [
        json.loads(x) for x in (world.home / "service" / "audit.jsonl").read_text().splitlines()
    ]
    (entry,) = [x for x in lines if x.get("event") == "match_decision"]
    assert entry["firm"] == SHENZHEN and entry["who"]["province"] == "44"
    assert GUANGDONG_MENTION not in review_client.get("/review").text


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
    assert DecisionStore(world.home / "matching" / "decisions.sqlite").current().empty


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
            page.wait_for_url(f"{url}/review")
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
