"""The review page derives its queue once per (queue file version, decisions version) (issue
28): a decision recorded anywhere — this service, another handle on the store, another process
such as `zjtx match-review import` — shows on the next view; an unchanged queue and unchanged
decisions are neither parsed nor read again."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import service.review
from features.match_decisions import Decision, DecisionStore
from service.app import COOKIE_NAME
from service.deps import page_principal
from service.tokens import issue_token
from tests.service.conftest import BASE_URL, Service
from tests.service.review_world import (
    GUANGDONG_MENTION,
    GUANGZHOU,
    MINISTRY_MENTION,
    SHENZHEN,
    ReviewWorld,
    make_review_app,
    make_world,
)

T = TypeVar("T")
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewWorld:
    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "home"))
    return make_world(tmp_path)


@pytest.fixture
def ministry(world: ReviewWorld, service_files: Service) -> Iterator[TestClient]:
    """The ministry's browser session on the review app."""
    with TestClient(make_review_app(world, service_files.tokens_file), base_url=BASE_URL) as c:
        answer = c.post(
            "/login",
            data={"token": service_files.tokens.ministry},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )
        assert answer.status_code == 303 and COOKIE_NAME in answer.cookies
        yield c


def _key_of(world: ReviewWorld, raw_name: str) -> str:
    queue = pd.read_csv(world.run / "match_review.csv", dtype=str)
    return str(queue.loc[queue["raw_name"] == raw_name, "mention_key"].iloc[0])


def _store(world: ReviewWorld) -> DecisionStore:
    """Another handle on the service's decisions file, as `zjtx match-review import` opens."""
    return DecisionStore(world.home / "matching" / "decisions.sqlite")


def _decision(key: str, code: str, action: str = "decide") -> Decision:
    return Decision(
        mention_key=key,
        source="ip_holders",
        column="holder_name",
        raw_name=GUANGDONG_MENTION,
        credit_code=code,
        decided_by="离线导入",
        channel="import",
        action=action,
        decider_id="reviewer",
        role="offline",
        province="",
    )


def _pending(page: str) -> set[str]:
    return {m for m in (GUANGDONG_MENTION, MINISTRY_MENTION) if f"<h2>{m}</h2>" in page}


def counted(function: Callable[..., T], calls: list[int]) -> Callable[..., T]:
    """`function`, appending to `calls` each time it is called (a method too: a function)."""

    def wrapper(*args: Any, **kwargs: Any) -> T:
        calls.append(1)
        return function(*args, **kwargs)

    return wrapper


def test_unchanged_queue_and_decisions_are_not_parsed_or_read_again(
    ministry: TestClient, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the queue parser and the store's read of every decision in force, counted
    parses: list[int] = []
    reads: list[int] = []
    monkeypatch.setattr(service.review, "_read_queue", counted(service.review._read_queue, parses))
    monkeypatch.setattr(DecisionStore, "current", counted(DecisionStore.current, reads))
    # when the ministry views the page three times, a page deep too
    for path in ("/review", "/review?page=2", "/review"):
        assert ministry.get(path).status_code == 200
    # then the queue was parsed once and the decisions read once
    assert (len(parses), len(reads)) == (1, 1)
    # when a decision is recorded elsewhere, the decisions are read again, the queue is not
    _store(world).record([_decision(_key_of(world, GUANGDONG_MENTION), "none")])
    assert _pending(ministry.get("/review").text) == {MINISTRY_MENTION}
    assert (len(parses), len(reads)) == (1, 2)
    assert ministry.get("/review").status_code == 200
    assert (len(parses), len(reads)) == (1, 2)


def test_a_page_is_grouped_once_per_version_and_again_after_a_decision(
    ministry: TestClient, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the grouping of a page's candidates, counted
    groupings: list[int] = []
    of = service.review._Candidates.of
    monkeypatch.setattr(service.review._Candidates, "of", counted(of, groupings))
    # when the ministry views the same page twice
    first = ministry.get("/review").text
    assert ministry.get("/review").text == first
    # then its rows were grouped once
    assert len(groupings) == 1
    # when a decision is recorded elsewhere, the page is made again and shows it
    _store(world).record([_decision(_key_of(world, GUANGDONG_MENTION), "none")])
    assert _pending(ministry.get("/review").text) == {MINISTRY_MENTION}
    assert len(groupings) == 2


def test_a_decision_by_another_handle_or_process_shows_on_the_next_view(
    ministry: TestClient, world: ReviewWorld
) -> None:
    # given the page viewed (and so kept) with both mentions pending
    key = _key_of(world, GUANGDONG_MENTION)
    assert _pending(ministry.get("/review").text) == {GUANGDONG_MENTION, MINISTRY_MENTION}
    # when another handle on the store records a decision
    _store(world).record([_decision(key, SHENZHEN)])
    # then the next view has it: gone from the queue, listed with the firm's name and the
    # other candidate to supersede with
    page = ministry.get("/review").text
    assert _pending(page) == {MINISTRY_MENTION}
    decided = page.split('id="decided"', 1)[1]
    assert "深圳市华芯微电子有限公司 " + SHENZHEN in decided
    assert f'<option value="{GUANGZHOU}">广州市华芯微电子有限公司' in decided
    # when another process undoes it (a separate interpreter writing the same file)
    script = (
        "import sys; from pathlib import Path; from features.match_decisions import "
        "Decision, DecisionStore; DecisionStore(Path(sys.argv[1])).record([Decision("
        "mention_key=sys.argv[2], source='', column='', raw_name='', credit_code='', "
        "decided_by='离线导入', channel='undo', action='undo', role='offline')])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(_store(world).path), key],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    # then the next view has the mention pending again and nothing decided
    page = ministry.get("/review").text
    assert _pending(page) == {GUANGDONG_MENTION, MINISTRY_MENTION}
    assert 'id="decided-empty"' in page


def test_a_decision_made_on_the_page_leaves_the_queue_at_once(
    ministry: TestClient, world: ReviewWorld
) -> None:
    # given the page viewed once
    key = _key_of(world, MINISTRY_MENTION)
    assert MINISTRY_MENTION in _pending(ministry.get("/review").text)
    # when the ministry decides "none of these" on it
    answer = ministry.post(
        f"/review/{key}", data={"decision": "none"}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert answer.status_code == 303
    # then the page it is sent back to no longer lists it
    assert _pending(ministry.get(answer.headers["location"]).text) == {GUANGDONG_MENTION}


@pytest.mark.parametrize(
    ("page", "pages", "links"),
    [
        (1, 1, [1]),
        (1, 2, [1, 2]),
        (1, 2500, [1, 2, 3, 4, None, 2500]),
        (1250, 2500, [1, None, 1247, 1248, 1249, 1250, 1251, 1252, 1253, None, 2500]),
        (2500, 2500, [1, None, 2497, 2498, 2499, 2500]),
        (5, 9, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ],
)
def test_the_pager_shows_the_pages_near_this_one_not_every_page(
    page: int, pages: int, links: list[int | None]
) -> None:
    assert service.review.nearby_pages(page, pages) == links


def test_the_page_links_what_the_pager_shows(
    ministry: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setattr(service.review, "PAGE_SIZE", 1)  # a page per mention
    first = ministry.get("/review?page=1").text
    assert re.findall(r'href="/review\?page=(\d+)"', first) == ["2", "2"]  # page 2, 下一页
    assert "下一页" in first and "上一页" not in first


@pytest.fixture
def officials(world: ReviewWorld, tmp_path: Path) -> Iterator[dict[str, TestClient]]:
    """Browser sessions of two ministry officials and a Guangdong one, on one review app."""
    tokens_file = tmp_path / "tokens.yaml"
    names = {"ministry": "部级审核员甲", "ministry_too": "部级审核员乙", "guangdong": "广东审核员"}
    provinces = {"ministry": None, "ministry_too": None, "guangdong": "44"}
    app = make_review_app(world, tokens_file)
    sessions: dict[str, TestClient] = {}
    with ExitStack() as stack:
        for who, name in names.items():
            role = "ministry" if provinces[who] is None else "province"
            _, token = issue_token(tokens_file, role, provinces[who], name)
            client = stack.enter_context(TestClient(app, base_url=BASE_URL))
            answer = client.post(
                "/login", data={"token": token}, headers=SAME_ORIGIN, follow_redirects=False
            )
            assert answer.status_code == 303
            sessions[who] = client
        yield sessions


def counted_renders(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Each render of template `name`, counted."""
    renders: list[int] = []
    render = jinja2.Template.render

    def counting(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        if self.name == name:
            renders.append(1)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counting)
    return renders


@pytest.mark.parametrize("first", ["ministry", "guangdong"])
def test_a_rendered_page_is_shared_within_its_scope_only(
    officials: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    # given the rows' renders counted, and one official viewing the page first
    renders = counted_renders(monkeypatch, "review_rows.html")
    officials[first].get("/review")
    # when each official views it
    pages = {who: client.get("/review").text for who, client in officials.items()}
    # then the rows were rendered once per scope: a second ministry official shares them
    assert len(renders) == 2
    assert pages["ministry_too"] == pages["ministry"].replace("部级审核员甲", "部级审核员乙")
    # and each page is its own official's: name, role, and the mentions of their scope
    assert "部级审核员甲" in pages["ministry"] and "部级审核员乙" not in pages["ministry"]
    assert _pending(pages["ministry"]) == {GUANGDONG_MENTION, MINISTRY_MENTION}
    assert "部级账号可撤销或改选任何结论" in pages["ministry"]
    province = pages["guangdong"]
    assert "广东审核员" in province and "部级审核员" not in province
    assert _pending(province) == {GUANGDONG_MENTION}
    assert "仅列出本省作出的结论" in province and "部级账号可撤销" not in province


def test_a_rendered_page_shows_a_decision_on_the_next_view_and_no_old_notice(
    officials: dict[str, TestClient], world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the ministry's page rendered once, with a notice
    renders = counted_renders(monkeypatch, "review_rows.html")
    ministry = officials["ministry"]
    assert "已记录复核结论" in ministry.get("/review?done=decided").text
    assert "已记录复核结论" not in ministry.get("/review").text  # the notice is not kept
    assert len(renders) == 1
    # when the Guangdong official decides its mention on the page
    key = _key_of(world, GUANGDONG_MENTION)
    answer = officials["guangdong"].post(
        f"/review/{key}", data={"decision": "none"}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert answer.status_code == 303
    # then the ministry's next view is rendered again and shows it decided
    page = ministry.get("/review").text
    assert len(renders) == 2
    assert _pending(page) == {MINISTRY_MENTION}
    assert f'data-key="{key}"' in page.split('id="decided"', 1)[1]
    # and a decision recorded by another process shows as well
    _store(world).record([_decision(key, "", action="undo")])
    assert _pending(ministry.get("/review").text) == {GUANGDONG_MENTION, MINISTRY_MENTION}


def test_the_session_is_checked_on_the_event_loop() -> None:
    """A page's session lookup is a dict and a stat (as the API's token check): run in a worker
    thread it made each page wait for a thread twice under load (issue 28: the review page's
    p50 was twice the API's)."""
    assert inspect.iscoroutinefunction(page_principal)
