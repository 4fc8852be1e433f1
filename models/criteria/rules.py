"""One function per criterion: the rule, its article, and the evidence an official reads.

Each function returns `Verdicts` over all firms. Rules are applied in order and the first one
that matches a firm decides it (see `Verdicts.decide`). Every threshold comes from the config.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import (
    CATALOGUE_CLASSES,
    CREDIT_EVENT_TYPES,
    FIRM_STATUS,
    NODE_CATEGORIES,
    REVOKE_REASONS,
    TITLES,
)
from models.criteria.facts import (
    TITLE_RANK,
    Events,
    Facts,
    YearFigures,
    at,
    codes_of,
    dates_of,
    day,
    strings_of,
)
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
    Via,
    Wan,
    percent,
    ratio_compare,
    wan,
)
from models.criteria_config import ratio
from models.labels import (
    CATALOGUE_LABELS,
    CATEGORY_LABELS,
    EVENT_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    TITLE_LABELS,
    table_text,
)

CATALOGUE_NAMES = [CATALOGUE_LABELS[c] for c in CATALOGUE_CLASSES]  # by position, as codes_of

# GB 32100-2015 positions 1-2 (registering authority, organisation type), facts §2.
CODE_KIND_LABELS = {
    "91": "市场监管部门登记的企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
}

DECLARE_IP = "需申报说明：与主导产品相关，且实际应用并已产生经济效益"
DECLARE_PRODUCTS = "需申报说明：提供的产品（服务）不属于国家禁止、限制或淘汰类"


def missing(*tables: str) -> str:
    return "、".join(f"缺少数据表 {table_text(t)}" for t in tables)


def _missing_tables(f: Facts, *tables: str) -> str | None:
    absent = [t for t in tables if not f.has(t)]
    return missing(*absent) if absent else None


# --- Article 11 and Article 20 ------------------------------------------------------------


def art11_registered(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    status = codes_of(f.firms, "status", FIRM_STATUS)
    established = dates_of(f.firms, "established_on")
    ok = np.isin(status, [FIRM_STATUS.index(s) for s in f.config.eligibility.registered_statuses])
    labels = [STATUS_LABELS.get(s, s) for s in FIRM_STATUS]
    # 第十一条「企业」: only a credit code of an enterprise registered with market regulation
    # (91…, GB 32100-2015) is an enterprise; 92 个体工商户, 93 农民专业合作社 and other authorities'
    # codes are not (facts §2).
    prefixes = f.config.eligibility.enterprise_code_prefixes
    prefix = pc.utf8_slice_codeunits(pc.fill_null(f.codes, ""), 0, 2)
    kind = np.asarray(pc.fill_null(pc.index_in(prefix, pa.array(list(CODE_KIND_LABELS))), -1))
    enterprise = np.asarray(pc.fill_null(pc.is_in(prefix, pa.array(list(prefixes))), False))
    v.decide(
        ~enterprise,
        FAIL,
        "统一社会信用代码前两位为",
        Pick(np.arange(f.n), prefix),
        "（",
        Label(kind.astype(np.int64), list(CODE_KIND_LABELS.values()), "其他登记管理机关或机构类别"),
        f"），不是可申报的企业（第十一条：境内依法设立的企业，代码以{'或'.join(prefixes)}开头）",
    )
    v.decide(status < 0, UNKNOWN, "缺少登记状态")
    v.decide(ok & (established > f.today), FAIL, "成立日期 ", Date(established), " 晚于评估日")
    # 第十九条 (sources.md): a firm that moved out is still 境内依法设立; it belongs to the
    # receiving province, which evaluates it. Where it went unknown: where it belongs is unknown.
    moved = status == FIRM_STATUS.index("moved_out")
    destination = strings_of(f.firms, "moved_to_region_code")
    known = np.asarray(pc.is_valid(destination), dtype=bool)
    v.decide(
        moved & known,
        PASS,
        "已迁出至行政区划 ",
        Pick(np.arange(f.n), destination),
        "，仍为境内依法设立的企业，由迁入地评价（第十一条、第十九条）",
    )
    v.decide(
        moved,
        UNKNOWN,
        "登记状态为迁出，但迁入地不详：需核实迁入地，由迁入地中小企业主管部门评价（第十九条）",
    )
    # 第十一条: 在中华人民共和国境内依法设立 — a registry firm in operation.
    v.decide(ok, PASS, "登记状态：", Label(status, labels), "（第十一条：境内依法设立）")
    v.decide(~ok, FAIL, "登记状态：", Label(status, labels), "（第十一条）")
    return v.done("缺少登记状态")


def art11_sme_size(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    y = f.year
    rule = "（《中小企业划型标准规定》）"
    if not f.has("financials"):
        return v.done(missing("financials") + "，无法按《中小企业划型标准规定》划型")
    figures = f.financials(y)
    assigned, code_missing, coarse = f.industry
    v.decide(code_missing, UNKNOWN, "缺少行业代码（GB/T 4754），无法划型")
    v.decide(coarse, UNKNOWN, "行业代码不足以确定划型行业，无法划型")
    v.decide(~figures.present, UNKNOWN, f"缺少{y}年财务数据（从业人员、营业收入、资产总额）")
    classes = list(f.config.sme_size.classes.values())
    fail_masks = []
    for k, cls in enumerate(classes):
        members = assigned == k
        tests: list[tuple[np.ndarray, float, str, str, Part]] = []
        if cls.employees_below is not None:
            emp = figures.employees
            tests.append(
                (
                    emp,
                    cls.employees_below,
                    "从业人员",
                    f"{cls.employees_below:,}人",
                    Integer(emp, unit="人"),
                )
            )
        if cls.revenue_below is not None:
            tests.append(
                (
                    figures.revenue,
                    cls.revenue_below * FEN_PER_YUAN,
                    "营业收入",
                    f"{wan(cls.revenue_below)}万元",
                    Wan(figures.revenue, unit="万元"),
                )
            )
        if cls.assets_below is not None:
            tests.append(
                (
                    figures.assets,
                    cls.assets_below * FEN_PER_YUAN,
                    "资产总额",
                    f"{wan(cls.assets_below)}万元",
                    Wan(figures.assets, unit="万元"),
                )
            )
        # 第十一条 and the 2011 table: SME when ANY listed figure is below its line (或).
        for values, line, name, line_text, shown in tests:
            below = values < line
            v.decide(
                members & below,
                PASS,
                f"{y}年{cls.label}：{name} ",
                shown,
                f" < {line_text}，属中小企业{rule}",
            )
        at_or_above = members.copy()
        parts: list[str | Part] = [f"{y}年{cls.label}："]
        for i, (values, line, name, line_text, shown) in enumerate(tests):
            at_or_above &= values >= line
            parts += [("，" if i else "") + f"{name} ", shown, f" ≥ {line_text}"]
        fail_masks.append((at_or_above, [*parts, f"，不属于中小企业{rule}"]))
    for mask, parts in fail_masks:
        v.decide(mask, FAIL, *parts)
    return v.done(f"缺少{y}年划型所需的从业人员、营业收入或资产总额")


def _event_parts(events: Events) -> tuple[Part, Part]:
    """(what, when) of the event each firm's evidence shows."""
    labels = [EVENT_LABELS.get(t, t) for t in CREDIT_EVENT_TYPES]
    return Via(events.row, Label(events.event_type, labels)), Via(
        events.row, Date(events.occurred_on)
    )


def art11_credit_lists(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.eligibility
    if not f.has("credit_events"):
        return v.done(missing("credit_events"))
    # 第十一条、附件3（九）: 申报期间未被列入经营异常名录或严重失信主体名单 — listed on as_of.
    listed = f.events(cfg.credit_list_events, start=None, current=True)
    label, when = _event_parts(listed)
    v.decide(listed.row >= 0, FAIL, label, "（", when, "列入，评估日尚未移出；第十一条）")
    names = "、".join(EVENT_LABELS[t].removeprefix("列入") for t in cfg.credit_list_events)
    return v.rest(PASS, f"评估日未列入{names}（第十一条、附件3（九））")


def art11_incidents(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.eligibility
    if not f.has("credit_events"):
        return v.done(missing("credit_events"))
    start = f.year_start(cfg.incident_window_years)
    window = f"近{cfg.incident_window_years}年（{start.isoformat()}起）"
    # 第十一条、附件3（二）: 近三年未发生所列事故、事件和违法违规行为.
    incidents = f.events(cfg.incident_events, start=start, current=False)
    label, when = _event_parts(incidents)
    v.decide(incidents.row >= 0, FAIL, when, " 发生", label, f"，在{window}内（第十一条）")
    review = f.config.review.incident_events
    if review:
        flagged = f.events(review, start=start, current=False)
        label, when = _event_parts(flagged)
        v.decide(
            flagged.row >= 0,
            UNKNOWN,
            when,
            " 有",
            label,
            f"记录（{window}），需核实是否如实申报（第十一条）",
        )
    names = "、".join(EVENT_LABELS[t] for t in cfg.incident_events)
    return v.rest(PASS, f"{window}无{names}记录（第十一条、附件3（二））")


def art11_products_allowed(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    if not f.has("products"):
        return v.done(f"{missing('products')}；{DECLARE_PRODUCTS}")
    cat = f.catalogue
    # 第十一条: 提供的产品（服务）不属于国家禁止、限制或淘汰类.
    v.decide(
        cat.blocked_row >= 0,
        FAIL,
        "产品「",
        Pick(cat.blocked_row, cat.names),
        "」属产业结构调整指导目录",
        Via(cat.blocked_row, Label(cat.blocked_class, CATALOGUE_NAMES)),
        "（第十一条）",
    )
    v.decide(cat.all_allowed, PASS, f"已登记产品均属鼓励类或允许类；{DECLARE_PRODUCTS}")
    return v.done(f"产品目录类别不详；{DECLARE_PRODUCTS}")


def art20_ban(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.eligibility
    if not f.has("certifications"):
        return v.done(missing("certifications"))
    ban = f.ban
    reasons = [REASON_LABELS.get(r, r) for r in REVOKE_REASONS]
    # 第二十条: 取消认定且三年内不得再次申报, unless credit repair / accepted rectification.
    revoked: list[str | Part] = [
        Via(ban.row, Label(ban.title, [TITLE_LABELS[t] for t in TITLES])),
        "称号于",
        Via(ban.row, Date(ban.revoked_on)),
        "因",
        Via(ban.row, Label(ban.reason, reasons)),
        "被取消认定",
    ]
    banned: list[str | Part] = [
        f"，{cfg.ban_years}年内（至",
        Via(ban.row, Date(ban.ends_on)),
        "）不得再次申报（第二十条）",
    ]
    early = ~np.isnat(at(ban.lifted_too_early, ban.row, np.datetime64("NaT", "us")))
    v.decide(
        (ban.row >= 0) & early,
        FAIL,
        *revoked,
        "；记录的信用修复或整改日期 ",
        Via(ban.row, Date(ban.lifted_too_early)),
        " 早于取消认定日期，不能解除其后的禁止申报",
        *banned,
    )
    v.decide(ban.row >= 0, FAIL, *revoked, *banned)
    v.decide(ban.unclear, UNKNOWN, "有称号被取消认定，但原因或日期不详：需核实是否适用第二十条")
    return v.rest(PASS, f"无第二十条规定的取消认定后{cfg.ban_years}年内不得再次申报情形")


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


# --- scale, main business, debt -----------------------------------------------------------


def _revenue_floor(f: Facts, floor: int) -> tuple[np.ndarray, np.ndarray, Wan, str]:
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
        ok, revenue_low, shown, label = _revenue_floor(f, cfg.revenue_min)
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


def a2_2_revenue(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a2
    if not f.has("financials"):
        return v.done(missing("financials"))
    ok, low, shown, label = _revenue_floor(f, cfg.revenue_min)
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


# --- R&D ----------------------------------------------------------------------------------


class _RdYear(Part):
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


def _rd_years(f: Facts, years: int) -> list[int]:
    return list(range(f.year - years + 1, f.year + 1))


def a1_3_rd(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a1
    if not f.has("financials"):
        return v.done(missing("financials"))
    intensity = ratio(cfg.rd_intensity_min)
    fails, passes = np.zeros(f.n, dtype=bool), np.ones(f.n, dtype=bool)
    parts: list[str | Part] = []
    for year in _rd_years(f, cfg.rd_years):
        fy = f.financials(year)
        rd_known = ~np.isnan(fy.rd)
        share_known = rd_known & (fy.revenue > 0)  # undefined with zero revenue
        amount_ok = fy.rd >= cfg.rd_each_year_min * FEN_PER_YUAN
        share_ok = share_known & ratio_compare(fy.rd, fy.revenue, intensity, ">=")
        # 附件1（三）: 近两年研发费用均不低于100万元，且每年占营业收入比重均不低于3%.
        fails |= (rd_known & ~amount_ok) | (share_known & ~share_ok)
        passes &= amount_ok & share_ok
        parts += [*(["；"] if parts else []), _RdYear(year, fy)]
    rule = (
        f"；要求每年 ≥ {wan(cfg.rd_each_year_min)}万元"
        f"且占营业收入 ≥ {percent(cfg.rd_intensity_min)}（附件1（三））"
    )
    v.decide(fails, FAIL, *parts, rule)
    v.decide(passes, PASS, *parts, rule)
    return v.rest(UNKNOWN, *parts, rule)


def a2_3_rd(f: Facts) -> Verdicts:
    v = Verdicts(f.n, f.pool)
    cfg = f.config.a2
    if not f.has("financials"):
        return v.done(missing("financials"))
    intensity = ratio(cfg.rd_intensity_min)
    fails, passes = np.zeros(f.n, dtype=bool), np.ones(f.n, dtype=bool)
    total = np.zeros(f.n)
    parts: list[str | Part] = []
    for year in _rd_years(f, cfg.rd_years):
        fy = f.financials(year)
        share_known = ~np.isnan(fy.rd) & (fy.revenue > 0)  # undefined with zero revenue
        share_ok = share_known & ratio_compare(fy.rd, fy.revenue, intensity, ">=")
        fails |= share_known & ~share_ok  # 附件2（三）: 每年占营业收入比重均不低于3%
        passes &= share_ok
        total = total + fy.rd
        parts += [*(["；"] if parts else []), _RdYear(year, fy)]
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


# --- IP -----------------------------------------------------------------------------------


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
    return _ip(f, cfg.class1_ip_min, "附件1（四）", waivers, absent, none_text)


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
    return _ip(
        f, cfg.class1_ip_min, "附件2（四）", waivers, absent, "近三年无国家级科技奖励（排名前三）"
    )


def _ip(
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


# --- market, domain, evaluation -----------------------------------------------------------


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
