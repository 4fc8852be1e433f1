"""A small data set with two pending mentions, published as a run the way the flow does it.

华芯微电子有限公司 holds patent ZL1 and names no region: two Guangdong firms carry that trade
name (a Guangdong official's review). 星河软件有限公司 holds ZL2: one firm in Beijing, one in
Shanghai (the ministry's review).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from features.match_decisions import load_decisions
from features.match_review import write_review_files
from features.matching import link_mentions
from features.sources import load_sources
from service.app import create_app
from tests.service.conftest import credit_code, write_run

SHENZHEN = credit_code("91440300MA5F10001")
GUANGZHOU = credit_code("91440101MA5F10002")
BEIJING = credit_code("91110108MA0110003")
SHANGHAI = credit_code("91310104MA1F10004")
GUANGDONG_MENTION = "华芯微电子有限公司"
MINISTRY_MENTION = "星河软件有限公司"
REVIEW_RUN = "20260630-20260701T020000000000"


def write_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "firms.csv").write_text(
        "credit_code,name,established_on,region_code,industry_code,status\n"
        f"{SHENZHEN},深圳市华芯微电子有限公司,2015-03-01,440305,C3973,operating\n"
        f"{GUANGZHOU},广州市华芯微电子有限公司,2018-07-09,440106,C3973,operating\n"
        f"{BEIJING},北京星河软件有限公司,2012-01-05,110108,I6513,operating\n"
        f"{SHANGHAI},上海星河软件有限公司,2016-11-20,310104,I6513,operating\n",
        encoding="utf-8",
    )
    (folder / "ip_rights.csv").write_text(
        "ip_id,ip_type,title,granted_on,status,transferred_in\n"
        "ZL1,invention_patent,一种芯片封装结构,2024-03-01,valid,false\n"
        "ZL2,invention_patent,一种分布式调度方法,2024-05-01,valid,false\n",
        encoding="utf-8",
    )
    (folder / "ip_holders.csv").write_text(
        "ip_id,holder_name,holder_rank,holder_credit_code\n"
        f"ZL1,{GUANGDONG_MENTION},1,\n"
        f"ZL2,{MINISTRY_MENTION},1,\n",
        encoding="utf-8",
    )
    return folder


def publish_review_run(data: Path, runs: Path, run_id: str = REVIEW_RUN) -> Path:
    """A published run whose review files come from the real matcher (as flows.discovery.match)."""
    run = write_run(runs, run_id)
    sources = load_sources(data)
    links = link_mentions(sources, decisions=load_decisions())
    write_review_files(links, sources, run)
    latest = runs / "latest"
    if latest.is_symlink():
        latest.unlink()
    os.symlink(run_id, latest)
    return run


@dataclass(frozen=True)
class ReviewWorld:
    home: Path
    data: Path
    runs: Path
    run: Path


def make_world(tmp_path: Path) -> ReviewWorld:
    """The data, a ZJTX_HOME and the published review run (set ZJTX_HOME to `home` first)."""
    home = tmp_path / "home"
    data = write_data(tmp_path / "data")
    runs = home / "runs"
    run = publish_review_run(data, runs)
    return ReviewWorld(home=home, data=data, runs=runs, run=run)


def make_review_app(world: ReviewWorld, tokens_file: Path) -> FastAPI:
    return create_app(
        world.runs,
        tokens_file,
        world.home / "service" / "audit.jsonl",
        decisions_file=world.home / "matching" / "decisions.sqlite",
    )
