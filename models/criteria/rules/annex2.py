"""Annex 2 (附件2, 专精特新“小巨人”企业): the rules only this annex has — revenue and growth
(二), R&D (三), I类知识产权 (四) and domain (六); the others are in `both_annexes`."""

from __future__ import annotations

import numpy as np

from features.schemas import NODE_CATEGORIES
from models.criteria.facts import Facts, at
from models.criteria.rules.both_annexes import RdYear, ip_criterion, rd_years, revenue_floor
from models.criteria.text import (
    FAIL,
    FEN_PER_YUAN,
    PASS,
    UNKNOWN,
    Fixed,
    Label,
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
from models.labels import CATEGORY_LABELS


def _missing_tables(f: Facts, *tables: str) -> str | None:
    absent = [t for t in tables if not f.has(t)]
    return missing(*absent) if absent else None


def a2_2_revenue(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a2
    if not f.has("financials"):
        return v.done(missing("financials"))
    ok, low, shown, label = revenue_floor(f, cfg.revenue_min)
    # 附件2（二）: 上年度营业收入5000万元以上.
    v.decide(ok, PASS, label, shown, f"万元 ≥ {wan(cfg.revenue_min)}万元（附件2（二））")
    v.decide(low, FAIL, label, shown, f"万元 < {wan(cfg.revenue_min)}万元（附件2（二））")
    return v.done(f"缺少{f.year}年营业收入")


def a2_2_growth(f: Facts, renewal: bool) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a2
    if renewal:
        return v.rest(PASS, "复核企业不考查营业收入复合增长率（附件2（二））")
    if not f.has("financials"):
        return v.done(missing("financials"))
    base_year = f.year - cfg.growth_years
    now, base = f.financials(f.year).revenue, f.financials(base_year).revenue
    known = ~np.isnan(now) & (base > 0)
    # 附件2（二）: (rev_Y / rev_{Y-2}) ** (1/2) - 1 ≥ 5% ⇔ rev_Y / rev_{Y-2} ≥ 1.05².
    ok = known & ratio_compare(now, base, (1 + ratio(cfg.growth_min)) ** cfg.growth_years, ">=")
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = (np.power(now / base, 1 / cfg.growth_years) - 1) * 100
    threshold = cfg.growth_min * 100
    growth = np.where(
        ok, np.maximum(growth, threshold), np.minimum(growth, np.nextafter(threshold, -1))
    )
    parts: list[str | Part] = [
        f"{base_year}年营业收入 ",
        Wan(base),
        f"万元，{f.year}年 ",
        Wan(now),
        f"万元，近{cfg.growth_years}年复合增长率 ",
        Fixed(np.nan_to_num(growth), 2),
    ]
    v.decide(ok, PASS, *parts, f"% ≥ {percent(cfg.growth_min)}（附件2（二））")
    v.decide(known, FAIL, *parts, f"% < {percent(cfg.growth_min)}（附件2（二））")
    v.decide(base == 0, UNKNOWN, f"{base_year}年营业收入为零，复合增长率无法计算（附件2（二））")
    return v.done(f"缺少{base_year}年或{f.year}年营业收入")


def a2_3_rd(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a2
    if not f.has("financials"):
        return v.done(missing("financials"))
    intensity = ratio(cfg.rd_intensity_min)
    fails, passes = np.zeros(f.n, dtype=bool), np.ones(f.n, dtype=bool)
    total = np.zeros(f.n)
    parts: list[str | Part] = []
    for year in rd_years(f, cfg.rd_years):
        fy = f.financials(year)
        share_known = ~np.isnan(fy.rd) & (fy.revenue > 0)  # undefined with zero revenue
        share_ok = share_known & ratio_compare(fy.rd, fy.revenue, intensity, ">=")
        fails |= share_known & ~share_ok  # 附件2（三）: 每年占营业收入比重均不低于3%
        passes &= share_ok
        total = total + fy.rd
        parts += [*(["；"] if parts else []), RdYear(year, fy)]
    # 附件2（三）: 近两年研发费用合计不低于1200万元.
    total_ok = total >= cfg.rd_total_min * FEN_PER_YUAN
    fails |= ~np.isnan(total) & ~total_ok
    passes &= total_ok
    rule: list[str | Part] = [
        "；合计 ",
        Wan(total, unit="万元"),
        f"，要求合计 ≥ {wan(cfg.rd_total_min)}万元且每年占营业收入 ≥ "
        f"{percent(cfg.rd_intensity_min)}（附件2（三））",
    ]
    v.decide(fails, FAIL, *parts, *rule)
    v.decide(passes, PASS, *parts, *rule)
    v.decide(np.ones(f.n, dtype=bool), UNKNOWN, *parts, *rule)
    return v


def a2_4_ip(f: Facts) -> Verdicts:
    cfg = f.config.a2
    waivers: list[tuple[np.ndarray, list[str | Part]]] = []
    if f.has("awards"):
        # 附件2（四）、附件3（五）: `level = national` is the contract's definition of the four
        # national awards; the name as written (国防科学技术奖 for 国防科技奖) does not decide.
        award = f.award_waiver(cfg.waiver_award_levels)
        waivers.append(
            (
                award.row >= 0,
                [
                    "近三年获国家级科技奖励：",
                    Pick(award.row, award.texts),
                    "，不考察本项指标（附件2（四）、附件3（五））",
                ],
            )
        )
    absent = [] if f.has("awards") else ["awards"]
    return ip_criterion(
        f, cfg.class1_ip_min, "附件2（四）", waivers, absent, "近三年无国家级科技奖励（排名前三）"
    )


def a2_6_domain(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    fields = f.config.a2.domain_fields
    if not f.has("products"):
        return v.done(missing("products"))
    mp = f.main_product
    row = mp.row
    category = at(mp.category, row, -1)
    inside = np.isin(category, [NODE_CATEGORIES.index(c) for c in fields])
    name = Pick(row, mp.names)
    label = Label(category, [CATEGORY_LABELS.get(c, c) for c in NODE_CATEGORIES])
    v.decide(row < 0, UNKNOWN, "无主导产品（收入占比超过50%，附件3（三））记录")
    v.decide(category < 0, UNKNOWN, "主导产品「", name, "」所属领域不详")
    # 附件2（六）: 主导产品属于所列领域, 且位于产业链关键环节.
    v.decide(
        ~inside, FAIL, "主导产品「", name, "」所属领域为「", label, "」，不属于附件2（六）所列领域"
    )
    head: list[str | Part] = ["主导产品「", name, "」属", label]
    chain_missing = _missing_tables(f, "supply_chain", "chain_nodes")
    if chain_missing:
        return v.rest(UNKNOWN, *head, "；", chain_missing)
    link = f.key_link(category)
    years = f"{f.year - f.config.a2.domain_supply_years + 1}—{f.year}年"
    v.decide(
        link.row >= 0,
        PASS,
        *head,
        f"，{years}供应",
        Pick(link.row, link.texts),
        "关键环节（附件2（六））；需申报说明：对提升产业链供应链韧性和安全水平发挥重要作用",
    )
    return v.rest(
        UNKNOWN, *head, f"，数据未显示其{years}在该领域的产业链关键环节供货（附件2（六））"
    )
