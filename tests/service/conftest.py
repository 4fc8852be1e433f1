"""A published runs directory in the shape of outputs.md, tokens for each role, and the app."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.run_layout import LIST_COLUMNS
from features.schemas import with_check_character
from flows.publication.lists import write_list_csv, write_list_xlsx, write_reapply, write_watchlist
from models.labels import criterion_text
from service.app import create_app
from service.tokens import issue_token, revoke_token

RUN_OLD = "20260623-20260624T010000000000"
RUN_NEW = "20260630-20260701T010000000000"


def credit_code(first17: str) -> str:
    """A valid GB 32100-2015 code: the given 17 characters and their check character."""
    return with_check_character(first17)


# Guangdong (44): A, B invited (specialized), C invited (little giant), E due for renewal and
# a cultivation case; H on the re-application list (rejected for specialized in 2024).
# Beijing (11): D invited, G due for renewal, an empty re-application list. F: no region code
# anywhere.
A = credit_code("91440300MA5F00001")
B = credit_code("91440300MA5F00002")
C = credit_code("91440101MA5F00003")
D = credit_code("91110108MA0100004")
E = credit_code("91440300MA5F00005")
F = credit_code("91000000MA0000006")
G = credit_code("91110105MA0100007")
H = credit_code("91440304MA5F00008")
NAMES = {
    A: "深圳市华芯微电子有限公司",
    B: "深圳市蓝海精密机械有限公司",
    C: "广州市云帆传感技术有限公司",
    D: "北京中关村星河软件有限公司",
    E: "深圳市恒达新材料有限公司",
    G: "北京朝阳精工仪器有限公司",
    H: "深圳市远航光电科技有限公司",
}
UNKNOWN_REGION_FIRM = F


def list_row(rank: int, code: str, region: str, tier: str, outcome: str, score: float) -> dict:
    return {
        "rank": rank,
        "credit_code": code,
        "name": NAMES[code],
        "region_code": region,
        "tier": tier,
        "outcome": outcome,
        "score": score,
        "p_qualify": min(1.0, score * 1.25),
        "p_apply": 0.2,
        "priority": score,
        "est_score_low": 52.0,
        "est_score_high": 77.0,
        "p_score_pass": 0.81,
        "reasons": "I类知识产权 3 项（提高）；研发费用占营业收入比重 6.1%（提高）",
        "to_verify": criterion_text("a1_5_market", "缺少市场数据")
        if outcome == "to_verify"
        else "",
        "declarations": "需申报说明：主导产品市场地位",
        "evidence": criterion_text("a1_2_scale", "2025年营业收入 7,050.0万元 ≥ 1,500万元"),
    }


def watch_row(province: str, code: str, region: str) -> dict:
    """A watch-list row (outputs.md): a titled firm listed for a serious dishonesty listing."""
    return {
        "province": province,
        "credit_code": code,
        "name": NAMES[code],
        "region_code": region,
        "title": "specialized_sme",
        "expires_on": pd.Timestamp("2027-12-31"),
        "ground": "credit_listing",
        "article": "第十一条、第二十条",
        "since": pd.Timestamp("2026-03-02"),
        "evidence": criterion_text(
            "art11_credit_lists", f"{NAMES[code]} 列入严重失信主体名单（2026-03-02）"
        ),
        "action": "核实后取消认定",
        "new": True,
        "basis": "art11_credit_lists",
    }


def candidate_rows(code: str, tier: str, mode: str, verdicts: dict[str, str]) -> list[dict]:
    return [
        {
            "credit_code": code,
            "tier": tier,
            "mode": mode,
            "criterion": criterion,
            "verdict": verdict,
            "evidence": f"依据：{NAMES.get(code, code)}",
        }
        for criterion, verdict in verdicts.items()
    ]


def write_run(runs: Path, run_id: str) -> Path:
    """One complete run directory as the discovery flow publishes it."""
    path = runs / run_id
    (path / "invitations").mkdir(parents=True)
    lists = {
        "44": pd.DataFrame(
            [
                list_row(1, A, "440305", "specialized", "eligible", 0.91),
                list_row(2, B, "440306", "specialized", "to_verify", 0.55),
                list_row(1, C, "440106", "little_giant", "eligible", 0.73),
            ]
        ),
        "11": pd.DataFrame([list_row(1, D, "110108", "specialized", "eligible", 0.64)]),
    }
    for province, frame in lists.items():
        write_list_csv(frame[LIST_COLUMNS], path / "invitations" / f"{province}.csv")
        write_list_xlsx(frame[LIST_COLUMNS], path / "invitations" / f"{province}.xlsx")
    reapply = pd.DataFrame(
        [{**list_row(1, H, "440304", "specialized", "eligible", 0.42), "p_qualify": 0.61}]
    ).assign(last_round=2024, last_outcome="rejected")
    write_reapply(reapply, path / "reapply", "44", "champion")
    write_reapply(reapply.iloc[0:0], path / "reapply", "11", "champion")
    spec = ("art11_registered", "a1_2_scale", "a1_5_market")
    rows = []
    for code in (A, D, H):
        rows += candidate_rows(code, "specialized", "discovery", dict.fromkeys(spec, "pass"))
        rows += candidate_rows(code, "specialized", "discovery", {"outcome": "eligible"})
    rows += candidate_rows(
        B, "specialized", "discovery", {**dict.fromkeys(spec, "pass"), "a1_5_market": "unknown"}
    )
    rows += candidate_rows(B, "specialized", "discovery", {"outcome": "to_verify"})
    rows += candidate_rows(
        C, "little_giant", "discovery", {"a2_2_revenue": "pass", "outcome": "eligible"}
    )
    rows += candidate_rows(
        E, "specialized", "discovery", {"a1_3_rd": "fail", "outcome": "ineligible"}
    )
    rows += candidate_rows(
        E, "specialized", "renewal", {"a1_3_rd": "fail", "outcome": "ineligible"}
    )
    rows += candidate_rows(
        F, "specialized", "discovery", {"a1_3_rd": "fail", "outcome": "ineligible"}
    )
    rows += candidate_rows(G, "little_giant", "renewal", {"a2_3_rd": "pass", "outcome": "eligible"})
    pd.DataFrame(rows).to_parquet(path / "candidates.parquet", index=False)
    pd.DataFrame(
        {
            "credit_code": [E, F],
            "tier": ["specialized", "specialized"],
            "failing_criteria": ["a1_3_rd", "a1_3_rd"],
            "evidence": [
                criterion_text("a1_3_rd", "研发费用 80万元 < 100万元"),
                criterion_text("a1_3_rd", "研发费用 50万元 < 100万元"),
            ],
        }
    ).to_csv(path / "cultivation.csv", index=False)
    pd.DataFrame(
        {
            "credit_code": [E, G],
            "name": [NAMES[E], NAMES[G]],
            "region_code": ["440304", "110105"],
            "tier": ["specialized", "little_giant"],
            "outcome": ["ineligible", "eligible"],
            "failing": [criterion_text("a1_3_rd", "研发费用不足"), ""],
            "unknown": ["", ""],
        }
    ).to_csv(path / "renewals.csv", index=False)
    watch = pd.DataFrame([watch_row("44", E, "440304"), watch_row("11", G, "110105")])
    for province, rows in watch.groupby("province"):
        write_watchlist(rows, path / "watchlist", str(province))
    for name in ("match_review.csv", "rejects.csv"):
        (path / name).write_text("table,row,reason\n", encoding="utf-8")
    (path / "report.html").write_text("<html></html>", encoding="utf-8")
    funnel = [
        {"province": p, "tier": "specialized", "registry": 10, "candidates": 9,
         "already_certified": 1, "ineligible": 6, "eligible": 2, "to_verify": 1, "invited": 3}
        for p in ("11", "44")
    ]  # fmt: skip
    manifest = {
        "run_id": run_id,
        "as_of": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}",
        "model_version": "3",
        "config_hash": "c0ffee",
        "counts": {"firms": 20, "funnel": funnel},
        "timings_seconds": {"total": 1.0},
    }
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Tokens:
    ministry: str
    guangdong: str
    beijing: str
    revoked: str


@dataclass(frozen=True)
class Service:
    runs: Path
    tokens_file: Path
    audit_log: Path
    tokens: Tokens


@pytest.fixture(scope="session")
def service_files(tmp_path_factory: pytest.TempPathFactory) -> Service:
    home = tmp_path_factory.mktemp("zjtx-home")
    runs = home / "runs"
    write_run(runs, RUN_OLD)
    write_run(runs, RUN_NEW)
    os.symlink(RUN_NEW, runs / "latest")
    (runs / ".staging-20260707-x").mkdir()  # an unfinished run is never served
    tokens_file = home / "service" / "tokens.yaml"
    _, ministry = issue_token(tokens_file, "ministry", None, "工业和信息化部中小企业局")
    _, guangdong = issue_token(tokens_file, "province", "44", "广东省工业和信息化厅")
    _, beijing = issue_token(tokens_file, "province", "11", "北京市经济和信息化局")
    record, revoked = issue_token(tokens_file, "province", "44", "已停用的令牌")
    revoke_token(tokens_file, record.id)
    return Service(
        runs=runs,
        tokens_file=tokens_file,
        audit_log=home / "service" / "audit.jsonl",
        tokens=Tokens(ministry, guangdong, beijing, revoked),
    )


@pytest.fixture(scope="session")
def app(service_files: Service) -> FastAPI:
    return create_app(service_files.runs, service_files.tokens_file, service_files.audit_log)


BASE_URL = "https://testserver"  # the service is Secure by default: cookies need HTTPS
SAME_SITE = {"Origin": BASE_URL}  # what a browser sends with a form posted from our own page


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, headers=SAME_SITE) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
