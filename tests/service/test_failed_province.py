"""A province whose task failed in the latest run (issue 23): its officials get a notice naming
the failure and a link to the previous run's list, never a bare 404 or an empty list."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.tokens import issue_token
from tests.service.conftest import BASE_URL, RUN_NEW, RUN_OLD, SAME_SITE, A, D, bearer, write_run

ERROR = "ValueError: province 44 could not be scored"
FAILED_44 = {"province": "44", "task": "province", "error": ERROR, "previous_run": RUN_OLD}
LABELLED_44 = {**FAILED_44, "task_label": "省级指标判定、评分与名单生成"}  # the API's answer


@dataclass(frozen=True)
class FailedWorld:
    app_client: TestClient
    guangdong: str
    beijing: str
    ministry: str


def write_failed_run(runs: Path, run_id: str) -> Path:
    """A run as the flow publishes it when province 44's task failed: no file of 44."""
    run = write_run(runs, run_id)
    for folder in ("invitations", "reapply", "watchlist"):
        for path in run.glob(f"{folder}/44.*"):
            path.unlink()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    manifest["failed_provinces"] = [FAILED_44]
    (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailedWorld]:
    home = tmp_path_factory.mktemp("failed-province")
    runs = home / "runs"
    write_run(runs, RUN_OLD)
    write_failed_run(runs, RUN_NEW)
    os.symlink(RUN_NEW, runs / "latest")
    tokens = home / "tokens.yaml"
    _, ministry = issue_token(tokens, "ministry", None, "工业和信息化部中小企业局")
    _, guangdong = issue_token(tokens, "province", "44", "广东省工业和信息化厅")
    _, beijing = issue_token(tokens, "province", "11", "北京市经济和信息化局")
    app = create_app(runs, tokens, home / "audit.jsonl")
    with TestClient(app, base_url=BASE_URL, headers=SAME_SITE) as client:
        yield FailedWorld(client, guangdong, beijing, ministry)


def log_in(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_the_failed_provinces_pages_show_the_notice_and_link_the_previous_list(
    failed: FailedWorld,
) -> None:
    client = failed.app_client
    log_in(client, failed.guangdong)
    for path in ("", "/reapply", "/cultivation", "/renewals", "/watchlist"):
        page = client.get(f"/runs/latest/provinces/44{path}")
        assert page.status_code == 404, path
        assert "本次运行未生成名单" in page.text and ERROR in page.text
        assert f'href="/runs/{RUN_OLD}/provinces/44"' in page.text
    previous = client.get(f"/runs/{RUN_OLD}/provinces/44")  # the previous list is still served
    assert previous.status_code == 200 and "深圳市华芯微电子有限公司" in previous.text
    run_page = client.get("/runs/latest")
    assert 'id="failed-provinces"' in run_page.text and ERROR in run_page.text
    assert f"/runs/{RUN_OLD}/provinces/44" in run_page.text
    assert "本次失败，见上次名单" in client.get("/").text


def test_the_api_names_the_failure_and_the_previous_list(failed: FailedWorld) -> None:
    client = failed.app_client
    answer = client.get(
        "/api/v1/runs/latest/provinces/44/invitations", headers=bearer(failed.guangdong)
    )
    assert answer.status_code == 404
    body = answer.json()
    assert "失败" in body["detail"] and ERROR in body["detail"]
    assert body["failed_province"] == LABELLED_44
    assert body["previous_list"] == f"/api/v1/runs/{RUN_OLD}/provinces/44/invitations"
    old = client.get(body["previous_list"], headers=bearer(failed.guangdong))
    assert old.status_code == 200 and A in old.text
    again = client.get("/api/v1/runs/latest/provinces/44/reapply", headers=bearer(failed.guangdong))
    assert again.status_code == 404 and again.json()["failed_province"] == LABELLED_44
    for token in (failed.guangdong, failed.ministry):
        summary = client.get("/api/v1/runs/latest", headers=bearer(token)).json()
        assert summary["failed_provinces"] == [LABELLED_44]
        assert "44" not in summary["provinces"]


def test_other_provinces_learn_nothing_of_the_failure_and_keep_their_list(
    failed: FailedWorld,
) -> None:
    client = failed.app_client
    headers = bearer(failed.beijing)
    walled = client.get("/api/v1/runs/latest/provinces/44/invitations", headers=headers)
    assert walled.status_code == 404 and walled.json() == {"detail": "未找到"}
    summary = client.get("/api/v1/runs/latest", headers=headers).json()
    assert summary["failed_provinces"] == [] and summary["provinces"] == ["11"]
    own = client.get("/api/v1/runs/latest/provinces/11/invitations", headers=headers)
    assert own.status_code == 200 and D in own.text
