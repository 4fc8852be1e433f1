"""Everything an official reads is in Chinese, one tier at a time (issue 29).

A run whose data exercises every code an official can meet — both tiers, every outcome, every
criterion among the matters to verify, every watch-list ground, action and title, every last
application outcome, both booleans — is published through the real list functions and writers,
then every view of it is read: report.html, every Excel sheet, every service page and the JSON
the pages render from. No code of the label table (models.labels) may show outside the CSV
files, the JSON's code fields and bracketed ids (［a1_1_niche_years］).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from features.match_review import write_review_files
from features.matching import link_mentions
from features.sources import load_sources
from flows.publication.lists import (
    write_list_csv,
    write_list_xlsx,
    write_reapply,
    write_row_indexes,
    write_watchlist,
)
from flows.publication.report import write_report_html
from models.criteria import TIER_CRITERIA, TIERS, cultivation_list
from models.criteria_config import load_criteria_config
from models.invitations import funnel, invitation_lists, reapply_lists, renewal_rows
from models.labels import (
    ACTION_LABELS,
    CRITERION_LABELS,
    LAST_OUTCOME_LABELS,
    OUTCOME_LABELS,
    VOCABULARIES,
    criterion_text,
    table_text,
)
from models.watchlist import GROUND_ARTICLES, watch_coverage
from models.watchlist_config import GROUNDS
from service.app import create_app
from service.tokens import issue_token
from tests.service.conftest import BASE_URL, SAME_SITE, bearer, credit_code
from tests.service.review_world import write_data

AS_OF = dt.date(2026, 6, 30)
RUN = "20260630-20260701T030000000000"
# Every code of the label table, as a whole token (case aside: `True` is the code `true`).
CODES = {code.lower() for labels in VOCABULARIES.values() for code in labels}
BRACKETED = re.compile(r"［[^］]*］")
TOKEN = re.compile(r"[A-Za-z0-9_]+")
# JSON fields that hold codes (outputs.md); their names sit beside them in `*_label` fields.
CODE_FIELDS = {
    "tier",
    "outcome",
    "verdict",
    "mode",
    "criterion",
    "title",
    "ground",
    "new",
    "last_outcome",
    "failing_criteria",
    "basis",
    "data_gaps",
    "failing",
    "task",
    "model_version",
    "counts",  # the manifest's counts, as they are (ministry only)
}

# Guangdong (44): P to verify on every criterion of both tiers, Q eligible for both, R a near
# miss of both (cultivation), S titled and due for renewal, T and U re-applicants (rejected,
# withdrawn, approved without a title). Beijing (11): V invited, and a firm on its watch list.
FIRMS = {
    "P": ("91440300MA5F20001", "深圳市博远智能装备有限公司", "440305"),
    "Q": ("91440300MA5F20002", "深圳市凌云光学科技有限公司", "440306"),
    "R": ("91440101MA5F20003", "广州市启明新材料有限公司", "440106"),
    "S": ("91440300MA5F20004", "深圳市精诚传动技术有限公司", "440304"),
    "T": ("91440300MA5F20005", "深圳市海纳检测仪器有限公司", "440305"),
    "U": ("91440101MA5F20006", "广州市天衡软件有限公司", "440106"),
    "V": ("91110108MA0120007", "北京中科微纳电子有限公司", "110108"),
}
CODE = {key: credit_code(first17) for key, (first17, _, _) in FIRMS.items()}
EVIDENCE = {
    "pass": "数据显示已达到本项门槛",
    "fail": "数据显示未达到本项门槛",
    "unknown": f"缺少数据表 {table_text('financials')}",
}


def criteria_rows(key: str, tier: str, verdicts: dict[str, str], outcome: str, mode: str) -> list:
    rows = [
        {
            "credit_code": CODE[key],
            "tier": tier,
            "mode": mode,
            "criterion": criterion,
            "verdict": verdicts.get(criterion, "pass"),
            "evidence": EVIDENCE[verdicts.get(criterion, "pass")],
        }
        for criterion in TIER_CRITERIA[tier]
    ]
    summary = {"credit_code": CODE[key], "tier": tier, "mode": mode, "criterion": "outcome"}
    return [*rows, {**summary, "verdict": outcome, "evidence": "见各项指标"}]


def every_criterion(verdict: str, tier: str) -> dict[str, str]:
    return dict.fromkeys(TIER_CRITERIA[tier], verdict)


def criteria_frame() -> pd.DataFrame:
    rows = []
    spec, giant = "specialized", "little_giant"
    for tier in TIERS:
        rows += criteria_rows("P", tier, every_criterion("unknown", tier), "to_verify", "discovery")
        rows += criteria_rows("Q", tier, {}, "eligible", "discovery")
        rd = "a1_3_rd" if tier == spec else "a2_3_rd"
        rows += criteria_rows("R", tier, {rd: "fail"}, "ineligible", "discovery")
        rows += criteria_rows("S", tier, {}, "already_certified", "discovery")
    rows += criteria_rows("S", spec, {"a1_3_rd": "fail"}, "ineligible", "renewal")
    rows += criteria_rows("S", giant, {"a2_7_evaluation": "unknown"}, "to_verify", "renewal")
    rows += criteria_rows("T", spec, {}, "eligible", "discovery")
    rows += criteria_rows("T", giant, {"a2_5_market": "unknown"}, "to_verify", "discovery")
    rows += criteria_rows("U", spec, {}, "eligible", "discovery")
    rows += criteria_rows("U", giant, {}, "eligible", "discovery")
    rows += criteria_rows("V", spec, {}, "eligible", "discovery")
    rows += criteria_rows("V", giant, {"a2_2_revenue": "fail"}, "ineligible", "discovery")
    return pd.DataFrame(rows)


def firms_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "credit_code": [CODE[k] for k in FIRMS],
            "name": [name for _, name, _ in FIRMS.values()],
            "region_code": [region for _, _, region in FIRMS.values()],
            "status": "operating",
        }
    )


def scores_frame(criteria: pd.DataFrame) -> pd.DataFrame:
    keys = criteria[criteria["criterion"] == "outcome"][["credit_code", "tier"]]
    keys = keys.drop_duplicates().reset_index(drop=True)
    score = 0.9 - 0.05 * keys.index.to_series()
    return keys.assign(
        score=score,
        p_qualify=score,
        p_apply=0.2,
        priority=score,
        est_score_low=52.0,
        est_score_high=77.0,
        p_score_pass=0.8,
        reasons="I类知识产权 3 项（提高）；研发费用占营业收入比重 6.1%（提高）",
    )


def applications_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "credit_code": [CODE["T"], CODE["T"], CODE["U"]],
            "year": [2024, 2023, 2024],
            "title": ["specialized_sme", "little_giant", "specialized_sme"],
            "outcome": ["rejected", "withdrawn", "approved"],
        }
    )


# (ground, title, action, basis, evidence): every ground, action and title once at least.
WATCH = [
    ("registration", "specialized_sme", "revoke", "art11_registered", "登记状态：吊销"),
    ("credit_listing", "little_giant", "ministry", "art11_credit_lists", "列入严重失信主体名单"),
    ("incident", "specialized_sme", "revoke", "art11_incidents", "较大及以上生产安全事故"),
    ("data_fraud", "specialized_sme", "revoke", "", "2026-03-01 发现数据造假（第二十条）"),
    ("no_longer_sme", "little_giant", "ministry", "art11_sme_size", "上年度营业收入超过标准"),
    ("criterion_failed", "specialized_sme", "revoke", "a1_3_rd", "研发费用 80万元 < 100万元"),
    ("moved_out", "specialized_sme", "hand_over", "", "登记状态：迁出（原注册地 440305）"),
    ("update_missed_once", "specialized_sme", "monitor", "", "2025年未在2025-05-31前更新"),
    ("update_missed_twice", "little_giant", "ministry", "", "累计达2次未更新"),
    ("major_change_unreported", "specialized_sme", "revoke", "merger@2026-01-05", "合并未报告"),
    ("major_change_reported", "specialized_sme", "monitor", "other@2026-02-01", "已报告"),
]


def watch_frame() -> pd.DataFrame:
    rows = []
    for number, (ground, title, action, basis, text) in enumerate(WATCH):
        province, region = ("11", "110105") if number == 0 else ("44", "440305")
        code = credit_code(f"91{region}MA5F3{number:04d}")
        evidence = criterion_text(basis, text) if basis in CRITERION_LABELS else text
        rows.append(
            {
                "province": province,
                "credit_code": code,
                "name": f"观察企业{number}有限公司",
                "region_code": region,
                "title": title,
                "expires_on": pd.Timestamp("2027-12-31"),
                "ground": ground,
                "article": GROUND_ARTICLES[ground],
                "since": pd.Timestamp("2026-03-02"),
                "evidence": evidence,
                "action": ACTION_LABELS[action],
                "new": number % 2 == 0,
                "basis": basis,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class World:
    run: Path
    client: TestClient
    guangdong: str
    ministry: str


def publish(run: Path, home: Path) -> None:
    """The run as flows.discovery publishes it, from the pure list functions and the writers."""
    criteria, firms = criteria_frame(), firms_frame()
    scores, applications = scores_frame(criteria), applications_frame()
    lists = invitation_lists(criteria, scores, firms, applications=applications, as_of=AS_OF)
    reapply = reapply_lists(criteria, scores, firms, applications, AS_OF)
    for folder in ("invitations", "reapply"):
        (run / folder).mkdir(parents=True)
    for province in ("11", "44"):
        own = lists[lists["province"] == province].drop(columns="province")
        write_list_csv(own, run / "invitations" / f"{province}.csv")
        write_list_xlsx(own, run / "invitations" / f"{province}.xlsx")
        write_reapply(reapply[reapply["province"] == province], run / "reapply", province, "x")
    cultivation = cultivation_list(criteria, load_criteria_config())
    cultivation = cultivation.merge(firms[["credit_code", "name", "region_code"]])
    write_list_csv(cultivation, run / "cultivation.csv")
    write_list_csv(renewal_rows(criteria, firms), run / "renewals.csv")
    criteria.to_parquet(run / "candidates.parquet", index=False)
    watch = watch_frame()
    for province, rows in watch.groupby("province"):
        write_watchlist(rows, run / "watchlist", str(province))
    coverage = pd.DataFrame({"table": ["annual_updates"], "status": ["missing"]})
    summary = {"rows": len(watch), "new": int(watch["new"].sum())}
    summary["coverage"] = watch_coverage(coverage)  # type: ignore[assignment]
    stages = funnel(criteria, firms, lists, reapply)
    counts = {
        "firms": len(firms),
        "matching": {"mentions": 2, "linked": 0, "review": 2, "decided": 0},
        "invited": len(lists),
        "reapply": len(reapply),
        "funnel": stages.to_dict(orient="records"),
        "watchlist": summary,
    }
    manifest = {"run_id": RUN, "as_of": AS_OF.isoformat(), "counts": counts}
    manifest["model_version"] = "none"  # ordered without a champion
    write_report_html(run / "report.html", manifest, stages, lists, watch, summary)
    (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, default=str))
    sources = load_sources(write_data(home / "data"))  # two mentions for the review page
    write_review_files(link_mentions(sources), sources, run)
    write_row_indexes(run)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("readable")
    runs = home / "runs"
    publish(runs / RUN, home)
    (runs / "latest").symlink_to(RUN)
    tokens = home / "service" / "tokens.yaml"
    _, ministry = issue_token(tokens, "ministry", None, "工业和信息化部中小企业局")
    _, guangdong = issue_token(tokens, "province", "44", "广东省工业和信息化厅")
    app = create_app(
        runs,
        tokens,
        home / "service" / "audit.jsonl",
        decisions_file=home / "matching" / "decisions.sqlite",
    )
    with TestClient(app, base_url=BASE_URL, headers=SAME_SITE) as client:
        yield World(runs / RUN, client, guangdong, ministry)


class _Text(HTMLParser):
    """The text a reader sees: text nodes, not tags, attributes, styles or scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def codes_in(text: str) -> set[str]:
    """The label table's codes in a text, as whole tokens, outside full-width brackets."""
    return {t for t in TOKEN.findall(BRACKETED.sub(" ", text)) if t.lower() in CODES}


def json_codes(value: Any, field: str = "") -> set[str]:
    """Codes in a JSON answer's text outside its code fields."""
    if field in CODE_FIELDS:
        return set()
    if isinstance(value, dict):
        return set().union(*(json_codes(v, k) for k, v in value.items()), set())
    if isinstance(value, list):
        return set().union(*(json_codes(v, field) for v in value), set())
    return codes_in(value) if isinstance(value, str) else set()


def log_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303


def pages(run: Path) -> list[str]:
    base = f"/runs/{RUN}/provinces"
    lists = [f"{base}/{p}{tail}" for p in ("44", "11") for tail in ("", "/reapply")]
    lists += [f"{url}?tier={tier}" for url in lists for tier in TIERS]
    tables = [f"{base}/{p}/{which}" for p in ("44", "11") for which in TABLES]
    firms = [f"/runs/{RUN}/firms/{code}" for code in CODE.values()]
    return ["/", f"/runs/{RUN}", *lists, *tables, *firms, "/review"]


TABLES = ("cultivation", "renewals", "watchlist")


def test_the_run_exercises_every_code_an_official_can_meet(world: World) -> None:
    # the CSVs (codes, for machines) hold every tier, outcome, ground, action, title and
    # last outcome, and the lists' cells every criterion
    lists = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for p in sorted((world.run / "invitations").glob("*.csv"))
    )
    reapply = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for p in sorted((world.run / "reapply").glob("*.csv"))
    )
    watch = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for p in sorted((world.run / "watchlist").glob("*.csv"))
    )
    assert set(lists["tier"]) == set(TIERS) and set(lists["outcome"]) == {"eligible", "to_verify"}
    assert set(reapply["last_outcome"]) == set(LAST_OUTCOME_LABELS)
    assert set(watch["ground"]) == set(GROUNDS) and set(watch["new"]) == {"true", "false"}
    assert set(watch["action"]) == set(ACTION_LABELS.values())
    assert set(watch["title"]) == {"specialized_sme", "little_giant"}
    cells = " ".join(lists["to_verify"])
    assert all(f"［{criterion}］" in cells for criterion in CRITERION_LABELS)
    manifest = json.loads((world.run / "manifest.json").read_text(encoding="utf-8"))
    stages = pd.DataFrame(manifest["counts"]["funnel"])
    assert all(stages[outcome].sum() > 0 for outcome in OUTCOME_LABELS)


def test_no_code_shows_in_the_report_the_excel_sheets_or_the_pages(world: World) -> None:
    found: dict[str, set[str]] = {}
    # the report
    report = (world.run / "report.html").read_text(encoding="utf-8")
    found["report.html"] = codes_in(page_text(report))
    # every sheet of every workbook
    for path in sorted(world.run.rglob("*.xlsx")):
        if "match_review" in path.relative_to(world.run).as_posix():
            continue  # review sheets are filled in and read back (`zjtx match-review import`)
        book = load_workbook(path)
        for sheet in book.worksheets:
            texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
            found[f"{path.relative_to(world.run)}:{sheet.title}"] = codes_in("\n".join(texts))
    # every page, as a province official and as the ministry
    for token, readable in ((world.guangdong, "44"), (world.ministry, None)):
        log_in(world.client, token)
        for url in pages(world.run):
            if readable and ("/provinces/11" in url or url.endswith(CODE["V"])):
                continue
            response = world.client.get(url)
            assert response.status_code == 200, url
            found[url] = codes_in(page_text(response.text))
    world.client.cookies.clear()
    offenders = {where: codes for where, codes in found.items() if codes}
    assert offenders == {}


def test_no_code_shows_in_the_json_text_beside_its_code_fields(world: World) -> None:
    api = f"/api/v1/runs/{RUN}"
    urls = [
        "/api/v1/runs",
        api,
        *(f"{api}/provinces/{p}/{what}" for p in ("44", "11") for what in ("invitations",)),
        *(f"{api}/provinces/{p}/{what}" for p in ("44", "11") for what in ("reapply",)),
        *(f"{api}/provinces/{p}/{what}" for p in ("44", "11") for what in TABLES),
        *(f"{api}/firms/{code}" for code in CODE.values()),
    ]
    found = {}
    for url in urls:
        response = world.client.get(url, headers=bearer(world.ministry))
        assert response.status_code == 200, url
        found[url] = json_codes(response.json())
    assert {url: codes for url, codes in found.items() if codes} == {}
    # the codes stay, their names beside them
    page = world.client.get(f"{api}/provinces/44/invitations", headers=bearer(world.ministry))
    row = page.json()["items"][0]
    assert row["tier"] in TIERS and row["tier_label"] in (
        "专精特新中小企业",
        "专精特新“小巨人”企业",
    )
    watch = world.client.get(f"{api}/provinces/44/watchlist", headers=bearer(world.ministry))
    first = watch.json()["items"][0]
    assert first["ground_label"] and first["title_label"] and first["new_label"] in ("是", "否")


def test_the_province_page_shows_each_tier_apart_with_its_own_ranks_count_and_filters(
    world: World,
) -> None:
    # given the Guangdong official
    log_in(world.client, world.guangdong)
    # when the province's page is opened
    page = world.client.get(f"/runs/{RUN}/provinces/44").text
    # then one section per tier, in Chinese, each ranked from 1 with its own count and form
    specialized = page[page.index('id="tier-specialized"') : page.index('id="tier-little_giant"')]
    giant = page[page.index('id="tier-little_giant"') :]
    assert "<h2>专精特新中小企业（附件1）</h2>" in specialized
    assert "<h2>专精特新“小巨人”企业（附件2）</h2>" in giant
    for section, count in ((specialized, 2), (giant, 3)):
        ranks = re.findall(r'<td class="num">(\d+)</td>', section)
        assert ranks == [str(r) for r in range(1, count + 1)]
        assert f"共 {count} 家" in section
        assert section.count('<form class="filters"') == 1 and 'name="tier"' in section
    # and a tier's own page shows that tier alone
    alone = world.client.get(f"/runs/{RUN}/provinces/44", params={"tier": "little_giant"}).text
    assert 'id="tier-little_giant"' in alone and 'id="tier-specialized"' not in alone
    world.client.cookies.clear()


def test_matters_to_verify_lead_with_the_criterions_name_and_article(world: World) -> None:
    lists = pd.read_csv(world.run / "invitations" / "44.csv", dtype=str, keep_default_na=False)
    firm = lists[(lists["credit_code"] == CODE["P"]) & (lists["tier"] == "specialized")]
    (cell,) = firm["to_verify"]
    assert cell.startswith(
        f"细分市场年限（附件1（一））［a1_1_niche_years］：{EVIDENCE['unknown']}"
    )
    cultivation = pd.read_csv(world.run / "cultivation.csv", dtype=str, keep_default_na=False)
    assert set(cultivation["failing_criteria"]) == {"a1_3_rd", "a2_3_rd", "a2_2_revenue"}  # codes
    rd = cultivation[cultivation["failing_criteria"] == "a1_3_rd"]
    assert rd["evidence"].tolist() == [f"研发费用（附件1（三））［a1_3_rd］：{EVIDENCE['fail']}"]
