"""Annex 1 (附件1, 专精特新中小企业): the rules only this annex has — scale (二),
R&D (三) and I类知识产权 (四); the others are in `both_annexes` with Annex 1 thresholds."""

from __future__ import annotations

import numpy as np

from models.criteria.facts import Facts
from models.criteria.rules.both_annexes import (
    RdYear,
    audit_note,
    ip_criterion,
    rd_years,
    revenue_floor,
)
from models.criteria.text import (
    FAIL,
    FEN_PER_YUAN,
    PASS,
    UNKNOWN,
    Part,
    Pick,
    Verdicts,
    Wan,
    missing,
    percent,
    ratio_compare,
    wan,
)
from models.criteria_config import ratio


def a1_2_scale(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a1
    if not f.has("financials") and not f.has("investments"):
        return v.done(missing("financials", "investments"))
    rev_text = f"万元 ≥ {wan(cfg.revenue_min)}万元（附件1（二））"
    start = f.year_start(cfg.equity_window_years).isoformat()
    eq_label = (
        f"近{cfg.equity_window_years}年（{start}至{f.year_end().isoformat()}）"
        "合格机构投资者实缴股权投资 "
    )
    low_parts: list[str | Part] = []
    revenue_low = np.zeros(f.n, dtype=bool)
    unaudited_ok = np.zeros(f.n, dtype=bool)
    if f.has("financials"):
        ok, revenue_low, shown, label = revenue_floor(f, cfg.revenue_min)
        # 附件1（二）: 上年度营业收入1500万元以上 … (附件3（一）: audited figures only)
        unaudited_ok = ok & f.financials(f.year).unaudited
        v.decide(ok & ~unaudited_ok, PASS, label, shown, rev_text)
        low_parts = [label, shown, f"万元 < {wan(cfg.revenue_min)}万元"]
    if f.has("investments"):
        eq = f.equity
        # … 或近两年新增股权投资（合格机构投资者的实缴额）2000万元以上.
        v.decide(
            eq.qualified >= cfg.equity_min * FEN_PER_YUAN,
            PASS,
            eq_label,
            Wan(eq.qualified),
            f"万元 ≥ {wan(cfg.equity_min)}万元（附件1（二））",
        )
        never = eq.qualified + eq.unclear < cfg.equity_min * FEN_PER_YUAN
        v.decide(
            revenue_low & never,
            FAIL,
            *low_parts,
            "；",
            eq_label,
            Wan(eq.qualified),
            f"万元 < {wan(cfg.equity_min)}万元（附件1（二））",
        )
        v.decide(
            revenue_low,
            UNKNOWN,
            *low_parts,
            "；",
            eq_label,
            Wan(eq.qualified),
            "万元，另有投资者是否为合格机构投资者不详的实缴额 ",
            Wan(eq.unclear),
            "万元",
        )
    else:
        v.decide(revenue_low, UNKNOWN, *low_parts, "；", missing("investments"))
    if f.has("financials"):
        v.decide(
            unaudited_ok,
            UNKNOWN,
            f"{f.year}年营业收入 ",
            Wan(f.financials(f.year).revenue),
            rev_text,
            "；",
            audit_note([f.year]),
        )
    if not f.has("financials"):
        return v.done(
            missing("financials") + f"，且{eq_label.strip()}未达 {wan(cfg.equity_min)}万元"
        )
    return v.done(f"缺少{f.year}年营业收入")


def a1_3_rd(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a1
    if not f.has("financials"):
        return v.done(missing("financials"))
    intensity = ratio(cfg.rd_intensity_min)
    fails, passes = np.zeros(f.n, dtype=bool), np.ones(f.n, dtype=bool)
    parts: list[str | Part] = []
    for year in rd_years(f, cfg.rd_years):
        fy = f.financials(year)
        rd_known = ~np.isnan(fy.rd)
        share_known = rd_known & (fy.revenue > 0)  # undefined with zero revenue
        amount_ok = fy.rd >= cfg.rd_each_year_min * FEN_PER_YUAN
        share_ok = share_known & ratio_compare(fy.rd, fy.revenue, intensity, ">=")
        # 附件1（三）: 近两年研发费用均不低于100万元，且每年占营业收入比重均不低于3%.
        fails |= (rd_known & ~amount_ok) | (share_known & ~share_ok)
        passes &= amount_ok & share_ok
        parts += [*(["；"] if parts else []), RdYear(year, fy)]
    rule = (
        f"；要求每年 ≥ {wan(cfg.rd_each_year_min)}万元"
        f"且占营业收入 ≥ {percent(cfg.rd_intensity_min)}（附件1（三））"
    )
    v.decide(fails, FAIL, *parts, rule)
    v.decide(passes, PASS, *parts, rule)
    return v.rest(UNKNOWN, *parts, rule)


def a1_4_ip(f: Facts) -> Verdicts:
    cfg = f.config.a1
    award = f.award_waiver(cfg.waiver_award_levels) if f.has("awards") else None
    institution = f.institution_waiver if f.has("rd_institutions") else None
    waivers: list[tuple[np.ndarray, list[str | Part]]] = []
    if award is not None:
        waivers.append(
            (
                award.row >= 0,
                [
                    "近三年获省部级以上科学技术奖励：",
                    Pick(award.row, award.texts),
                    "，不考察本项指标（附件1（四））",
                ],
            )
        )
    if institution is not None:
        waivers.append(
            (
                institution.row >= 0,
                [
                    "拥有经认定的省部级以上研发机构「",
                    Pick(institution.row, institution.texts),
                    "」，不考察本项指标（附件1（四））",
                ],
            )
        )
    absent = [t for t in ("awards", "rd_institutions") if not f.has(t)]
    none_text = "近三年无省部级以上科学技术奖励（排名前三），无经认定的省部级以上研发机构"
    return ip_criterion(f, cfg.class1_ip_min, "附件1（四）", waivers, absent, none_text)
