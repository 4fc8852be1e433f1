"""Rules and helpers both annexes apply, each with its own thresholds and article.

附件1/附件2（一） title and niche years, （二） main business and debt ratio, （五） market,
附件1（六）/附件2（七） evaluation score; the revenue floor, R&D years and I类知识产权 count
that the `a1_*`/`a2_*` rules share; the audit note of 附件3（一）.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import TITLES
from models.criteria.facts import TITLE_RANK, Facts, YearFigures, at, dates_of, day
from models.criteria.text import (
    FAIL,
    FEN_PER_YUAN,
    PASS,
    UNKNOWN,
    Date,
    Fixed,
    Integer,
    Label,
    Part,
    Percent,
    Pick,
    Verdicts,
    Wan,
    missing,
    percent,
    ratio_compare,
)
from models.criteria_config import ratio
from models.labels import TITLE_LABELS

DECLARE_IP = "需申报说明：与主导产品相关，且实际应用并已产生经济效益"


# --- titles and niche years ---------------------------------------------------------------


def accepted_titles(titles: tuple[str, ...]) -> list[str]:
    """The configured titles, then any higher title of the ladder (Article 2)."""
    top = max(TITLE_RANK[t] for t in titles)
    return [*titles, *(t for t in TITLES if TITLE_RANK[t] > top)]


def title(
    f: Facts,
    titles: tuple[str, ...],
    article: str,
    renewal_title: str | None,
    among: np.ndarray | None = None,
) -> Verdicts:
    """`renewal_title`: the title under review (renewal mode, for the firms `among`)."""
    v = Verdicts(f.n, f.pool, among)
    if renewal_title is not None:
        # 第十六条、附件3（十一）: the title under review meets the title condition.
        v.decide(
            np.ones(f.n, dtype=bool),
            PASS,
            f"复核：现有{TITLE_LABELS[renewal_title]}称号（有效期至",
            Date(f.titles.expires[renewal_title]) if f.has("certifications") else "（未知）",
            "），按所获最高一级称号复核（第十六条、附件3（十一））",
        )
        return v
    if not f.has("certifications"):
        return v.done(missing("certifications"))
    for t in accepted_titles(titles):
        v.decide(
            f.titles.valid[t],
            PASS,
            f"持有有效的{TITLE_LABELS[t]}称号（有效期至",
            Date(f.titles.expires[t]),
            f"；{article}）",
        )
    names = "或".join(TITLE_LABELS[t] for t in titles)
    return v.rest(FAIL, f"评估日无有效的{names}称号（{article}）")


def niche_years(f: Facts, years: int, article: str) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cutoff_day = dt.date(f.year - years, 12, 31)
    cutoff = day(cutoff_day)
    established = dates_of(f.firms, "established_on")
    # 附件1/2（一）: a firm cannot have been in a market before it existed — the niche period
    # counts from the later of niche_since and established_on, so a firm set up after
    # (Y-3)-12-31 cannot have 3 years by the end of Y, whatever its product data says.
    v.decide(
        established > cutoff,
        FAIL,
        "成立日期 ",
        Date(established),
        f" 晚于 {cutoff_day.isoformat()}，截至{f.year}年末从事细分市场不足{years}年"
        f"（{article}：细分市场年限自成立起算）",
    )
    if not f.has("products"):
        return v.done(missing("products"))
    mp = f.main_product
    row = mp.row
    since = at(mp.niche_since, row, np.datetime64("NaT", "us"))
    year_only = at(mp.year_only, row, False)
    name = Pick(row, mp.names)
    v.decide(row < 0, UNKNOWN, "无主导产品（收入占比超过50%，附件3（三））记录")
    v.decide(np.isnat(since), UNKNOWN, "主导产品「", name, "」缺少进入细分市场时间")
    # The period counts from the later of the two dates: without a founding date, a niche
    # entry early enough cannot pass (the firm may be younger), a late one still fails.
    v.decide(
        np.isnat(established) & ~(since > cutoff),
        UNKNOWN,
        "主导产品「",
        name,
        "」",
        Date(since),
        f"进入细分市场，但缺少成立日期，无法确定截至{f.year}年末是否满{years}年"
        f"（{article}：细分市场年限自成立起算）",
    )
    from_established = established > since
    counted = np.where(from_established, established, since)
    # 附件1/2（一）: 截至上年末从事特定细分市场时间达3年以上 — from ≤ (Y-3)-12-31.
    for mask, verdict, verb in (
        (counted <= cutoff, PASS, "已满"),
        (counted > cutoff, FAIL, "不足"),
    ):
        tail = f"，截至{f.year}年末{verb}{years}年"  # same text for both tiers
        v.decide(
            mask & from_established,
            verdict,
            "主导产品「",
            name,
            "」申报进入细分市场时间早于成立日期，自成立日期 ",
            Date(established),
            f"起算{tail}（{article}）",
        )
        v.decide(
            mask & year_only,
            verdict,
            "主导产品「",
            name,
            "」",
            Date(since, year_only=True),
            "年进入细分市场",
            tail,
        )
        v.decide(mask, verdict, "主导产品「", name, "」", Date(since), "进入细分市场", tail)
    return v.done("主导产品缺少进入细分市场时间")


# --- revenue, audit, main business, debt --------------------------------------------------


def revenue_floor(f: Facts, floor: int) -> tuple[np.ndarray, np.ndarray, Wan, str]:
    fy = f.financials(f.year)
    known = fy.present & ~np.isnan(fy.revenue)
    ok = known & (fy.revenue >= floor * FEN_PER_YUAN)
    return ok, known & ~ok, Wan(fy.revenue), f"{f.year}年营业收入 "


def audit_note(years: list[int]) -> str:
    """附件3（一）: what an official asks for when accounts are marked unaudited."""
    listed = "、".join(str(y) for y in years)
    return (
        f"{listed}年财务数据标注未经审计［audited = false］，需提供{listed}年度审计报告核实"
        "（附件3（一）：以上一会计年度审计报告期末数为准）"
    )


def main_business(f: Facts, share_min: float, article: str) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    if not f.has("financials"):
        return v.done(missing("financials"))
    fy = f.financials(f.year)
    known = ~np.isnan(fy.main_revenue) & (fy.revenue > 0)
    ok = known & ratio_compare(fy.main_revenue, fy.revenue, ratio(share_min), ">=")
    shown = Percent(fy.main_revenue, fy.revenue, "floor")
    label = f"{f.year}年主营业务收入占营业收入 "
    # 附件1（二）不低于80% / 附件2（二）不低于90%.
    v.decide(ok, PASS, label, shown, f"% ≥ {percent(share_min)}（{article}）")
    v.decide(known, FAIL, label, shown, f"% < {percent(share_min)}（{article}）")
    # The share is undefined without a positive revenue: the data cannot decide.
    v.decide(
        fy.revenue == 0,
        UNKNOWN,
        f"{f.year}年营业收入为零，主营业务收入占比无法计算（{article}）",
    )
    return v.done(f"缺少{f.year}年主营业务收入或营业收入")


def debt_ratio(f: Facts, ratio_max: float, article: str) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    if not f.has("financials"):
        return v.done(missing("financials"))
    fy = f.financials(f.year)
    known = ~np.isnan(fy.liabilities) & (fy.assets > 0)
    ok = known & ratio_compare(fy.liabilities, fy.assets, ratio(ratio_max), "<=")
    shown = Percent(fy.liabilities, fy.assets, "ceil")
    label = f"{f.year}年末资产负债率 "
    # 附件1（二）不超过80% / 附件2（二）不超过75%.
    v.decide(ok, PASS, label, shown, f"% ≤ {percent(ratio_max)}（{article}）")
    v.decide(known, FAIL, label, shown, f"% > {percent(ratio_max)}（{article}）")
    v.decide(
        fy.assets == 0,
        UNKNOWN,
        f"{f.year}年末资产总额为零，资产负债率无法计算（{article}）",
    )
    return v.done(f"缺少{f.year}年末资产总额或负债总额")


# --- R&D ----------------------------------------------------------------------------------


class RdYear(Part):
    """'2025年研发费用 150.0万元（占营业收入 3.20%）', or what is missing."""

    def __init__(self, year: int, fy: YearFigures) -> None:
        self.year = year
        self.rd_known = ~np.isnan(fy.rd)
        self.share_known = self.rd_known & (fy.revenue > 0)
        self.revenue_zero = fy.revenue == 0
        self.amount, self.share = Wan(fy.rd), Percent(fy.rd, fy.revenue)

    def keys(self, idx: np.ndarray) -> list[np.ndarray]:
        known = self.share_known[idx].astype(np.int64) * 2 + self.revenue_zero[idx]
        return [*self.amount.keys(idx), *self.share.keys(idx), known]

    def render(self, idx: np.ndarray) -> pa.Array:
        head, amount = f"{self.year}年研发费用 ", self.amount.render(idx)
        with_share = pc.binary_join_element_wise(
            head, amount, "万元（占营业收入 ", self.share.render(idx), "%）", ""
        )
        without = pc.binary_join_element_wise(head, amount, "万元（营业收入不详）", "")
        zero = pc.binary_join_element_wise(head, amount, "万元（营业收入为零，占比无法计算）", "")
        text = pc.if_else(
            pa.array(self.share_known[idx]),
            with_share,
            pc.if_else(pa.array(self.revenue_zero[idx]), zero, without),
        )
        return pc.if_else(pa.array(self.rd_known[idx]), text, f"缺少{self.year}年研发费用")


def rd_years(f: Facts, years: int) -> list[int]:
    return list(range(f.year - years + 1, f.year + 1))


# --- IP -----------------------------------------------------------------------------------


def ip_criterion(
    f: Facts,
    minimum: int,
    article: str,
    waivers: list[tuple[np.ndarray, list[str | Part]]],
    waiver_tables_missing: list[str],
    no_waiver: str,
) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    have_ip = f.has("ip_rights", "ip_holders")
    if have_ip:
        ip = f.class1_ip
        # 附件1（四）1项以上 / 附件2（四）4项以上 I类知识产权 (附件3（七）定义).
        v.decide(
            ip.certain >= minimum,
            PASS,
            "I类知识产权 ",
            Integer(ip.certain),
            f"项 ≥ {minimum}项（{article}）；{DECLARE_IP}",
        )
    for mask, parts in waivers:  # 附件1（四）/附件2（四）: 奖励或研发机构, 不考察本项指标
        v.decide(mask, PASS, *parts)
    if not have_ip:
        return v.done(missing(*[t for t in ("ip_rights", "ip_holders") if not f.has(t)]))
    count: list[str | Part] = [
        "I类知识产权 ",
        Integer(ip.certain),
        f"项 < {minimum}项（有效、非转入、权利人排名前三，附件3（七））",
    ]
    never = ip.possible < minimum
    if waiver_tables_missing:
        v.decide(
            never, UNKNOWN, *count, "；", missing(*waiver_tables_missing), "，无法判断是否免于考察"
        )
    v.decide(never, FAIL, *count, f"；{no_waiver}（{article}）")
    return v.rest(
        UNKNOWN,
        "I类知识产权确定 ",
        Integer(ip.certain),
        f"项 < {minimum}项，另有信息不全（授权日期、是否转入或权利不详）的 ",
        Integer(ip.possible - ip.certain),
        "项",
    )


# --- market, evaluation -------------------------------------------------------------------


def market(f: Facts, share_min: float, rank_max: int, article: str, renown: str) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    declare = "需企业如实说明（附件3（四））"
    if not f.has("products"):
        return v.done(f"{missing('products')}；{declare}")
    mp = f.main_product
    row = mp.row
    share = at(mp.market_share, row, np.nan)
    rank = at(mp.domestic_rank, row, np.nan)
    scope = at(mp.international, row, False).astype(np.int64)
    name = Pick(row, mp.names)
    # 附件1/2（五）: 细分市场占有率10%以上或国内前三名; never `fail` on data (附件3（四）).
    v.decide(
        np.round(share, 12) >= share_min,
        PASS,
        "主导产品「",
        name,
        "」",
        Label(scope, ["国内", "国际"]),
        "细分市场占有率 ",
        Fixed(np.nan_to_num(share) * 100, 2),
        f"% ≥ {percent(share_min)}（{article}）；需申报说明：{renown}",
    )
    v.decide(
        rank <= rank_max,
        PASS,
        "主导产品「",
        name,
        "」国内细分市场排名第",
        Integer(np.nan_to_num(rank)),
        f"（前{rank_max}名，{article}）；需申报说明：{renown}",
    )
    return v.done(
        f"数据未显示主导产品细分市场占有率 ≥ {percent(share_min)}或国内前{rank_max}名；{declare}"
    )


def evaluation(
    f: Facts,
    score_min: float,
    renewal_years: int,
    renewal: bool,
    article: str,
    among: np.ndarray | None = None,
) -> Verdicts:
    v = Verdicts(f.n, f.pool, among)
    if not f.has("evaluation_scores"):
        return v.done(missing("evaluation_scores"))
    this_year = f.as_of.year  # "本年度" = the year of as_of
    note = "（以培育平台评价结果为准，估算分不作依据）"
    if not renewal:
        score = f.scores(this_year)
        shown = Fixed(np.nan_to_num(score), 1)
        # 附件1（六）50分以上 / 附件2（七）60分以上.
        v.decide(
            np.round(score, 9) >= score_min,
            PASS,
            f"{this_year}年度专精特新发展评价得分 ",
            shown,
            f" ≥ {score_min:g}分（{article}）",
        )
        v.decide(
            ~np.isnan(score),
            FAIL,
            f"{this_year}年度专精特新发展评价得分 ",
            shown,
            f" < {score_min:g}分（{article}）",
        )
        return v.done(f"缺少{this_year}年度发展评价得分{note}")
    # 复核企业近两年任意一年达标即可.
    years = list(range(this_year - renewal_years + 1, this_year + 1))
    scores = [f.scores(y) for y in years]
    listing: list[str | Part] = []
    for y, s in zip(years, scores, strict=True):
        listing += [
            *(["，"] if listing else []),
            f"{y}年度 ",
            Fixed(s, 1, unit="分", missing="得分缺失"),
        ]
    any_ok = np.zeros(f.n, dtype=bool)
    all_known = np.ones(f.n, dtype=bool)
    for s in scores:
        any_ok |= np.round(s, 9) >= score_min
        all_known &= ~np.isnan(s)
    rule = f"；复核企业近{renewal_years}年任意一年 ≥ {score_min:g}分即可（{article}）"
    v.decide(any_ok, PASS, "复核：", *listing, rule)
    v.decide(all_known, FAIL, "复核：", *listing, rule)
    return v.rest(UNKNOWN, "复核：", *listing, rule, note)
