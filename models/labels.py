"""The Chinese name of every code an official can meet (issue 29): one table, read by every view.

CSV files, the manifest and the JSON API keep the codes (outputs.md); the Excel sheets,
`report.html` and the service's pages show these names. A code may follow its name in full-width
brackets for analysts (`细分市场年限（附件1（一））［a1_1_niche_years］`); nowhere else does a code
reach a page. tests/models/test_labels.py checks that every vocabulary has a name for each code.

Pure data and string helpers: nothing here imports scikit-learn or pandas (the service reads it
at start-up).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# 第二条: the two tiers of the ladder a list is drawn up for.
TIER_LABELS = {"specialized": "专精特新中小企业", "little_giant": "专精特新“小巨人”企业"}
TIER_SHEETS = {"specialized": "专精特新中小企业", "little_giant": "专精特新小巨人"}  # Excel: no “”
TIER_ANNEXES = {"specialized": "附件1", "little_giant": "附件2"}
# 第二条: the titles of the ladder (certifications.title, applications.title).
TITLE_LABELS = {
    "tech_sme": "科技型中小企业",
    "innovative_sme": "创新型中小企业",
    "specialized_sme": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”企业",
}
TITLE_SHEETS = {"specialized_sme": "专精特新中小企业", "little_giant": "专精特新小巨人"}

# The criteria (outputs.md ids): a short name and the article it implements.
CRITERION_NAMES = {
    "art11_registered": "依法设立",
    "art11_sme_size": "中小企业划型",
    "art11_credit_lists": "经营异常与严重失信名单",
    "art11_incidents": "近三年事故事件",
    "art11_products_allowed": "产品目录类别",
    "art20_ban": "取消认定后禁止申报",
    "a1_1_title": "科技和创新型中小企业称号",
    "a1_1_niche_years": "细分市场年限",
    "a1_2_scale": "营业收入或股权投资",
    "a1_2_main_business": "主营业务收入占比",
    "a1_2_debt_ratio": "资产负债率",
    "a1_3_rd": "研发费用",
    "a1_4_ip": "I类知识产权",
    "a1_5_market": "市场地位",
    "a1_6_evaluation": "发展评价得分",
    "a2_1_title": "专精特新中小企业称号",
    "a2_1_niche_years": "细分市场年限",
    "a2_2_revenue": "营业收入",
    "a2_2_main_business": "主营业务收入占比",
    "a2_2_growth": "营业收入复合增长率",
    "a2_2_debt_ratio": "资产负债率",
    "a2_3_rd": "研发费用",
    "a2_4_ip": "I类知识产权",
    "a2_5_market": "市场地位",
    "a2_6_domain": "产业链关键环节领域",
    "a2_7_evaluation": "发展评价得分",
}
CRITERION_ARTICLES = {
    "art11_registered": "第十一条",
    "art11_sme_size": "第十一条",
    "art11_credit_lists": "第十一条",
    "art11_incidents": "第十一条",
    "art11_products_allowed": "第十一条",
    "art20_ban": "第二十条",
    "a1_1_title": "附件1（一）",
    "a1_1_niche_years": "附件1（一）",
    "a1_2_scale": "附件1（二）",
    "a1_2_main_business": "附件1（二）",
    "a1_2_debt_ratio": "附件1（二）",
    "a1_3_rd": "附件1（三）",
    "a1_4_ip": "附件1（四）",
    "a1_5_market": "附件1（五）",
    "a1_6_evaluation": "附件1（六）",
    "a2_1_title": "附件2（一）",
    "a2_1_niche_years": "附件2（一）",
    "a2_2_revenue": "附件2（二）",
    "a2_2_main_business": "附件2（二）",
    "a2_2_growth": "附件2（二）",
    "a2_2_debt_ratio": "附件2（二）",
    "a2_3_rd": "附件2（三）",
    "a2_4_ip": "附件2（四）",
    "a2_5_market": "附件2（五）",
    "a2_6_domain": "附件2（六）",
    "a2_7_evaluation": "附件2（七）",
}
# What an official reads for a criterion: its name and article, e.g. 细分市场年限（附件1（一））.
CRITERION_LABELS = {c: f"{name}（{CRITERION_ARTICLES[c]}）" for c, name in CRITERION_NAMES.items()}

# outputs.md: a criterion's verdict, a firm's outcome per tier, and the mode it was judged in.
VERDICT_LABELS = {"pass": "达标", "fail": "不达标", "unknown": "数据不足"}
OUTCOME_LABELS = {
    "eligible": "达标",
    "to_verify": "待核实",
    "ineligible": "不符合",
    "already_certified": "已获称号",
}
MODE_LABELS = {"discovery": "主动发现", "renewal": "复核"}  # 复核: 第十六条

# The last application of a firm on the re-application list (applications.outcome, issue 24).
LAST_OUTCOME_LABELS = {
    "rejected": "未通过",
    "withdrawn": "撤回",
    "approved": "曾获认定（现无有效称号，请核实）",
}

# The watch list (第十四、十七至二十一条): grounds and what the province does about them.
GROUND_LABELS = {
    "registration": "登记状态不再符合",
    "credit_listing": "列入经营异常名录或严重失信主体名单",
    "incident": "发生事故、事件或违法违规行为",
    "data_fraud": "数据造假",
    "no_longer_sme": "不再属于中小企业",
    "criterion_failed": "认定指标不再符合",
    "moved_out": "跨区域迁移",
    "update_missed_once": "首次未按期更新信息",
    "update_missed_twice": "累计两次未按期更新信息",
    "major_change_unreported": "重大变化未按期报告",
    "major_change_reported": "已报告重大变化，待核实",
}
ACTION_LABELS = {
    "monitor": "重点监测",  # 第十七条: a first missed update
    "revoke": "核实后取消认定",  # 第十八、二十条
    "ministry": "报工业和信息化部",  # 第二十一条: a 小巨人 is the ministry's
    "hand_over": "转迁入地",  # 第十九条
}
BOOLEAN_LABELS = {"true": "是", "false": "否"}

# Source tables (sources.md), as evidence names them when one is missing or a row refused.
TABLE_LABELS = {
    "firms": "企业登记信息",
    "name_history": "曾用名",
    "financials": "年度财务数据",
    "ip_rights": "知识产权",
    "ip_holders": "知识产权权利人",
    "investments": "股权投资",
    "awards": "科技奖项",
    "rd_institutions": "研发机构",
    "talent": "人才引育",
    "supply_chain": "产业链供应链",
    "chain_nodes": "产业链图谱",
    "products": "主导产品",
    "certifications": "认定记录",
    "credit_events": "信用与合规",
    "evaluation_scores": "发展评价得分",
    "annual_updates": "年度信息更新",
    "major_changes": "重大变化报告",
    "applications": "申报记录",
}
# Where a firm mention comes from (features.schemas.MENTION_COLUMNS), on the match review page.
MENTION_SOURCE_LABELS = {
    "ip_holders": "知识产权权利人",
    "investments": "股权投资·被投企业",
    "awards": "科技奖项·获奖单位",
    "rd_institutions": "研发机构·依托单位",
    "talent": "人才引育·单位",
    "supply_chain": "产业链供应链",
}
# What the match review page shows of a mention's row (features.match_decisions.mention_context:
# `column: value` pairs), by column; `title` is the patent's, from ip_rights.
MENTION_COLUMN_LABELS = {
    "title": "名称",
    "ip_id": "知识产权编号",
    "holder_name": "权利人",
    "holder_rank": "权利人排序",
    "investee_name": "被投企业",
    "investor_name": "投资方",
    "investor_qualified": "合格投资机构",
    "paid_in_amount": "实缴金额（元）",
    "paid_in_on": "实缴日期",
    "award_name": "奖项",
    "level": "级别",
    "year": "年度",
    "unit_name": "单位",
    "unit_rank": "单位排序",
    "institution_name": "机构名称",
    "kind": "机构类别",
    "recognized_on": "认定日期",
    "valid_until": "有效期至",
    "programme": "人才计划",
    "headcount": "人数",
    "supplier_name": "供应商",
    "customer_name": "客户",
    "chain": "产业链",
    "node": "环节",
    "amount": "金额（元）",
}
# How a mention was linked to the registry (outputs.md, `zjtx match`).
MATCH_METHOD_LABELS = {
    "decision": "人工复核确认",
    "code": "统一社会信用代码一致",
    "exact": "名称完全一致",
    "normalized": "规范化名称一致",
    "history": "与曾用名一致",
    "fuzzy": "名称相近",
    "classifier": "匹配模型判定",
    "review": "待人工复核",
    "none": "无对应登记企业",
}
# A failed task of a run (manifest `failed_provinces`, issue 23).
TASK_LABELS = {"province": "省级指标判定、评分与名单生成"}
# manifest `model_version` of a run ordered without a trained champion (flows.discovery).
MODEL_VERSION_LABELS = {"none": "无（按规则基线排序）"}

# Values of the source tables that evidence texts name (features.schemas vocabularies).
STATUS_LABELS = {
    "operating": "存续（在业）",
    "revoked": "吊销",
    "cancelled": "注销",
    "moved_out": "迁出（由迁入地中小企业主管部门负责，第十九条）",
}
EVENT_LABELS = {
    "abnormal_operation": "列入经营异常名录",
    "serious_dishonesty": "列入严重失信主体名单",
    "major_safety_accident": "较大及以上生产安全事故",
    "major_cyber_incident": "重大网络和数据安全事件",
    "major_environmental_violation": "重大环境违法行为",
    "serious_quality_issue": "严重质量问题",
    "serious_industry_violation": "严重违反相关行业管理规定",
    "data_fraud": "数据造假",
}
# certifications.revoke_reason; 第二十条 bans re-application after the first three.
REASON_LABELS = {
    "incident": "发生第二十条所列事故、事件或违法违规行为",
    "dishonesty": "被列入严重失信主体名单",
    "data_fraud": "数据造假",
    "not_updated": "未按期更新信息（第十七条）",
    "unreported_change": "重大变化未按期报告（第十八条）",
    "no_longer_qualified": "不再符合认定标准（第十八条）",
    "other": "其他原因",
}
# 附件2（六）: the fields of a key link of the industrial chain.
CATEGORY_LABELS = {
    "core_components": "制造业核心基础零部件",
    "core_electronic_components": "核心基础元器件",
    "key_software": "关键软件",
    "advanced_process": "先进基础工艺",
    "key_materials": "关键基础材料",
    "industrial_tech_base": "产业技术基础",
    "traditional_upgrade": "改造提升传统产业",
    "emerging_industry": "培育壮大新兴产业",
    "future_industry": "布局建设未来产业",
    "other": "其他",
}
# 第十一条: the industrial structure adjustment catalogue's classes.
CATALOGUE_LABELS = {
    "encouraged": "鼓励类",
    "allowed": "允许类",
    "restricted": "限制类",
    "eliminated": "淘汰类",
}
CHANGE_LABELS = {  # 第十八条: major changes
    "merger": "合并",
    "split": "分立",
    "restructuring": "重组",
    "main_product_change": "主导产品变化",
    "other": "其他重大变化",
}
CERT_STATUS_LABELS = {"valid": "有效", "expired": "已到期", "revoked": "已撤销"}
# 附件3（五）: I类知识产权 and the other rights.
IP_TYPE_LABELS = {
    "invention_patent": "发明专利",
    "defense_patent": "国防专利",
    "plant_variety": "植物新品种",
    "crop_variety": "国家级农作物品种",
    "new_drug": "国家新药",
    "tcm_protected_class1": "国家一级中药保护品种",
    "ic_layout": "集成电路布图设计专有权",
    "utility_model": "实用新型专利",
    "design": "外观设计专利",
    "software_copyright": "软件著作权",
    "trademark": "商标",
}
IP_STATUS_LABELS = {"valid": "有效", "expired": "已到期", "invalid": "已失效"}
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "municipal": "市级", "other": "其他"}
INSTITUTION_LABELS = {
    "tech_center": "企业技术中心",
    "engineering_center": "工程技术研究中心",
    "design_center": "工业设计中心",
    "key_lab": "重点实验室",
    "research_institute": "研究院",
    "other": "其他研发机构",
}
MARKET_SCOPE_LABELS = {"domestic": "国内", "international": "国际"}

# The coded columns of a mention's row (MENTION_COLUMN_LABELS) and the names of their values.
MENTION_VALUE_LABELS = {
    "investor_qualified": BOOLEAN_LABELS,
    "level": LEVEL_LABELS,
    "kind": INSTITUTION_LABELS,
}

# Every table above by what it names: the vocabularies a view may print (tests/models/
# test_labels.py checks each is complete; the views' test looks for any of these codes).
VOCABULARIES: Mapping[str, Mapping[str, str]] = {
    "tier": TIER_LABELS,
    "title": TITLE_LABELS,
    "criterion": CRITERION_LABELS,
    "verdict": VERDICT_LABELS,
    "outcome": OUTCOME_LABELS,
    "mode": MODE_LABELS,
    "last_outcome": LAST_OUTCOME_LABELS,
    "ground": GROUND_LABELS,
    "action": ACTION_LABELS,
    "boolean": BOOLEAN_LABELS,
    "table": TABLE_LABELS,
    "mention_source": MENTION_SOURCE_LABELS,
    "match_method": MATCH_METHOD_LABELS,
    "task": TASK_LABELS,
    "model_version": MODEL_VERSION_LABELS,
    "status": STATUS_LABELS,
    "event": EVENT_LABELS,
    "revoke_reason": REASON_LABELS,
    "category": CATEGORY_LABELS,
    "catalogue": CATALOGUE_LABELS,
    "change": CHANGE_LABELS,
    "cert_status": CERT_STATUS_LABELS,
    "ip_type": IP_TYPE_LABELS,
    "ip_status": IP_STATUS_LABELS,
    "level": LEVEL_LABELS,
    "institution": INSTITUTION_LABELS,
    "market_scope": MARKET_SCOPE_LABELS,
}


def label(labels: Mapping[str, str], code: object) -> str:
    """The name of a code; the code itself when the table has none (a test keeps that from
    happening), and empty for a missing value."""
    if code is None or code != code:  # None or NaN
        return ""
    text = str(code)
    return labels.get(text, text)


def with_code(name: str, code: object) -> str:
    """A name with its code in full-width brackets, for analysts: 达标［eligible］."""
    return f"{name}［{code}］"


def criterion_heading(criterion: str) -> str:
    """A criterion as a list cell names it: 细分市场年限（附件1（一））［a1_1_niche_years］."""
    return with_code(label(CRITERION_LABELS, criterion), criterion)


def criterion_text(criterion: str, evidence: str) -> str:
    """A criterion's evidence led by its name: 细分市场年限（附件1（一））［…］：evidence."""
    return f"{criterion_heading(criterion)}：{evidence}"


_NEXT_CRITERION = re.compile(r"；(?=[^；]*?［[a-z0-9_]+］：)")


def criterion_items(cell: object) -> list[str]:
    """A list cell of several criteria's texts (joined by "；") split back into one text per
    criterion: a piece starts where a criterion's bracketed id is followed by its evidence."""
    text = label({}, cell)
    return [piece for piece in _NEXT_CRITERION.split(text) if piece] if text else []


def criterion_names(criteria: Iterable[str]) -> str:
    """Criterion names joined for a cell: 研发费用（附件1（三））、I类知识产权（附件1（四））."""
    return "、".join(label(CRITERION_LABELS, c) for c in criteria if c)


def table_text(table: str) -> str:
    """A source table as evidence names it: 年度财务数据［financials］."""
    return with_code(label(TABLE_LABELS, table), table)


def context_text(context: object) -> str:
    """A mention's row for people (`investor_qualified: False；level: national` → 合格投资机构：
    否；级别：国家级): columns by name, coded values by theirs; an unknown column in brackets."""
    pieces = []
    for piece in label({}, context).split("；"):
        column, found, value = piece.partition(": ")
        if not found:
            pieces.append(piece)
            continue
        value = MENTION_VALUE_LABELS.get(column, {}).get(value.lower(), value)
        name = MENTION_COLUMN_LABELS.get(column) or with_code("", column)
        pieces.append(f"{name}：{value}")
    return "；".join(p for p in pieces if p)


def basis_text(basis: object) -> str:
    """A watch-list `basis` for people: a criterion's name, or a major change and its date
    (`merger@2026-01-05` → 合并（2026-01-05））."""
    text = label({}, basis)
    if not text:
        return ""
    if text in CRITERION_LABELS:
        return criterion_heading(text)
    change, _, day = text.partition("@")
    if change in CHANGE_LABELS:
        return f"{CHANGE_LABELS[change]}（{day}）" if day else CHANGE_LABELS[change]
    return text
