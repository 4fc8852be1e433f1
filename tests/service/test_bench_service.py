"""bench_service's review queue of N pending mentions (issue 28): the bench's copy of a run
gains synthetic mentions in the files' own format, the service reads them all, and the
published run is left as it was; and the bench finds bench_discovery's runs by their firms."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from bench.bench_service import BROWSER, published_runs, with_pending
from core.run_layout import MATCH_REVIEW, MATCH_REVIEW_CANDIDATES, MATCH_REVIEW_CSV
from features.match_review import sheet_province
from service.app import COOKIE_NAME
from tests.service.conftest import BASE_URL, Service
from tests.service.review_world import ReviewWorld, make_review_app, make_world

PENDING = 30
KEY = re.compile(r"^[a-z_]{2,32}:[0-9a-f]{24}$")  # service.review.MentionKey


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewWorld:
    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "home"))
    return make_world(tmp_path)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def _total(client: TestClient, token: str) -> int:
    """The number of pending mentions the review page states for this official."""
    answer = client.post(
        "/login",
        data={"token": token},
        headers={**BROWSER, "Origin": BASE_URL},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and COOKIE_NAME in answer.cookies
    page = client.get("/review?page=2", headers=BROWSER)
    assert page.status_code == 200
    found = re.search(r"待复核 (\d+) 条", page.text)
    assert found is not None
    return int(found.group(1))


def test_pending_mentions_extend_the_bench_copy_and_the_service_reads_them(
    world: ReviewWorld, service_files: Service, tmp_path: Path
) -> None:
    # given a published run with two pending mentions
    published = _files(world.run)
    before = _csv(world.run / MATCH_REVIEW_CSV)
    assert len(before) == 2
    # when the bench asks for 30 in its own copy
    runs = tmp_path / "served"
    copy, count = with_pending(world.run, runs / "20260630-20260701T030000000000", PENDING)
    # then the copy's queue holds 30, the published rows first and byte for byte
    assert count == PENDING and copy != world.run
    queue_bytes = (copy / MATCH_REVIEW_CSV).read_bytes()
    assert queue_bytes.startswith(published[MATCH_REVIEW_CSV])
    assert queue_bytes.count("\ufeff".encode()) == 1  # one BOM, at the start
    queue = _csv(copy / MATCH_REVIEW_CSV)
    assert len(queue) == PENDING and list(queue.columns) == list(before.columns)
    assert queue["mention_key"].is_unique and queue["mention_key"].map(KEY.match).all()
    # every new mention names real registry firms (those of the run) as candidates, in rank order
    candidates = _csv(copy / MATCH_REVIEW_CANDIDATES)
    registry = _csv(world.run / MATCH_REVIEW_CANDIDATES).drop_duplicates("credit_code")
    assert set(candidates["credit_code"]) <= set(registry["credit_code"])
    for mention in queue.to_dict(orient="records"):
        rows = candidates[candidates["mention_key"] == mention["mention_key"]]
        assert "|".join(rows["credit_code"]) == mention["candidate_codes"]
        assert rows["rank"].tolist() == [str(r) for r in range(1, len(rows) + 1)]
    # the province sheets hold exactly the rows each province decides
    provinces = sheet_province(queue).fillna("").astype(str)
    for sheet in sorted((copy / MATCH_REVIEW).glob("*.csv")):
        own = _csv(sheet)
        assert list(own.columns) == list(before.columns)
        assert set(own["mention_key"]) == set(queue["mention_key"][provinces == sheet.stem])
    # and the published run is unchanged (the copy's files are new files, not its links)
    assert _files(world.run) == published
    assert json.loads((copy / "manifest.json").read_text())["counts"]["firms"] == 20

    # when the service serves the copy as the latest run
    os.symlink(copy.name, runs / "latest")
    served = ReviewWorld(home=world.home, data=world.data, runs=runs, run=runs / copy.name)
    with TestClient(make_review_app(served, service_files.tokens_file), base_url=BASE_URL) as c:
        # then the ministry has all 30 pending, a province those of its sheet
        assert _total(c, service_files.tokens.ministry) == PENDING
        assert _total(c, service_files.tokens.guangdong) == int((provinces == "44").sum())


def test_a_run_that_already_has_enough_mentions_is_served_as_it_is(world: ReviewWorld) -> None:
    assert with_pending(world.run, world.run.parent / "unused", 2) == (world.run, 2)
    assert not (world.run.parent / "unused").exists()


def test_the_newest_run_of_the_asked_number_of_firms_is_found(tmp_path: Path) -> None:
    # given bench_discovery's runs of several sizes, and the `latest` link
    def run(run_id: str, firms: int, created: str) -> Path:
        (tmp_path / run_id).mkdir()
        manifest = {"run_id": run_id, "created_at": created, "counts": {"firms": firms}}
        (tmp_path / run_id / "manifest.json").write_text(json.dumps(manifest))
        return tmp_path / run_id

    older = run("20260630-20261207T100000000000", 1_000_000, "2026-12-07T10:07:00+00:00")
    newer = run("20260630-20261207T140000000000", 1_000_000, "2026-12-07T14:07:00+00:00")
    run("20260630-20261207T150000000000", 250_000, "2026-12-07T15:07:00+00:00")
    (tmp_path / "latest").symlink_to("20260630-20261207T150000000000")
    # then the 1M-firm runs are found oldest first, the newest last; none of 20,000 firms
    assert published_runs(tmp_path, 1_000_000) == [older, newer]
    assert published_runs(tmp_path, 20_000) == []
