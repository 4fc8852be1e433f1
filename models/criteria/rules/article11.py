"""Article 11 (general conditions: registered, SME size, credit lists, incidents, products)
and Article 20 (the ban on declaring again after a revoked title)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import (
    CATALOGUE_CLASSES,
    CREDIT_EVENT_TYPES,
    FIRM_STATUS,
    REVOKE_REASONS,
    TITLES,
)
from models.criteria.facts import Events, Facts, at, codes_of, dates_of, strings_of
from models.criteria.text import (
    FAIL,
    FEN_PER_YUAN,
    PASS,
    UNKNOWN,
    Date,
    Integer,
    Label,
    Part,
    Pick,
    Verdicts,
    Via,
    Wan,
    missing,
    wan,
)
from models.labels import CATALOGUE_LABELS, EVENT_LABELS, REASON_LABELS, STATUS_LABELS, TITLE_LABELS

CATALOGUE_NAMES = [CATALOGUE_LABELS[c] for c in CATALOGUE_CLASSES]  # by position, as codes_of

# GB 32100-2015 positions 1-2 (registering authority, organisation type), facts §2.
CODE_KIND_LABELS = {
    "91": "市场监管部门登记的企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
}

DECLARE_PRODUCTS = "需申报说明：提供的产品（服务）不属于国家禁止、限制或淘汰类"


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
