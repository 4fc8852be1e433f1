"""The published lists' column headings and notes, in Chinese: what each column means and how a
sheet shows a coded column (outputs.md). The lists' CSV files keep the codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import pandas as pd

from core.run_layout import REAPPLY_COLUMNS
from models.labels import (
    BOOLEAN_LABELS,
    GROUND_LABELS,
    LAST_OUTCOME_LABELS,
    OUTCOME_LABELS,
    TIER_LABELS,
    TITLE_LABELS,
    basis_text,
    label,
)

COLUMN_LABELS = {
    "rank": ("排名", 6, "本名单内按模型得分由高到低的名次（1 为最高）"),
    "credit_code": ("统一社会信用代码", 21, "企业统一社会信用代码"),
    "name": ("企业名称", 36, "登记注册的现用名称"),
    "region_code": ("行政区划代码", 12, "注册地 6 位行政区划代码"),
    "tier": (
        "梯度层级",
        14,
        "专精特新中小企业［specialized］（附件1）；专精特新“小巨人”企业［little_giant］（附件2）。"
        "方括号内为 CSV 文件中的代码",
    ),
    "outcome": (
        "初筛结论",
        12,
        "达标［eligible］：数据显示全部指标达标；待核实［to_verify］：无不达标项，但部分指标需企业"
        "申报时核实。方括号内为 CSV 文件中的代码",
    ),
    "score": ("排序得分", 10, "名单排序依据，等于 priority；仅用于排序，不替代认定标准"),
    "p_qualify": ("认定概率", 10, "若现在申报，被认定的概率（校准后估计）"),
    "p_apply": ("自主申报概率", 10, "不经邀请、12个月内自行申报的概率估计（无申报记录时为空）"),
    "priority": ("邀请优先度", 10, "默认 认定概率×(1−自主申报概率)：一次邀请预计新增的合格申报数"),
    "est_score_low": (
        "估算评价得分下限",
        10,
        "2022年公开评分表中数据可见指标的得分（估算，不作认定依据）",
    ),
    "est_score_high": (
        "估算评价得分上限",
        10,
        "下限加上数据不可见指标最多可得分（估算，不作认定依据）",
    ),
    "p_score_pass": (
        "评价得分达标概率",
        10,
        "官方发展评价得分达到本层级分数线的概率估计；不判定评价得分指标",
    ),
    "reasons": ("排序依据", 48, "对得分影响最大的因素及方向"),
    "to_verify": (
        "待核实事项",
        60,
        "数据不足以判断、需企业申报时提供材料的指标：指标名称（条款）［指标编号］：依据",
    ),
    "declarations": ("需申报说明", 48, "数据无法证明、由企业如实说明的事项（如主导产品市场地位）"),
    "evidence": (
        "达标依据",
        80,
        "每项已达标指标所依据的数据与门槛：指标名称（条款）［指标编号］：依据",
    ),
}
# The run-wide lists the service pages through (cultivation.csv, renewals.csv).
CULTIVATION_LABELS = {
    **{c: COLUMN_LABELS[c] for c in ("credit_code", "name", "region_code", "tier")},
    "failing_criteria": (
        "不达标指标",
        30,
        "仅因这些可培育的指标不符合而未被邀请（CSV 文件中为逗号分隔的指标编号）",
    ),
    "evidence": ("不达标依据", 80, "每项不达标指标：名称（条款）［指标编号］：依据"),
}
RENEWAL_LABELS = {
    **{c: COLUMN_LABELS[c] for c in ("credit_code", "name", "region_code", "tier")},
    "outcome": (
        "复核结论",
        12,
        "达标［eligible］、待核实［to_verify］或不符合［ineligible］（第十六条）",
    ),
    "failing": ("不达标指标", 60, "每项不达标指标：名称（条款）［指标编号］：依据"),
    "unknown": ("数据不足的指标", 60, "每项数据不足以判断的指标：名称（条款）［指标编号］：依据"),
}
INVITATION_NOTE = (
    "名单仅列出数据显示无任何不达标指标的企业（认定标准不降低，第九条）；是否认定以审核为准。"
    "本名单只列主动发现的企业：截至评估日没有该层级申报记录的企业。曾申报该层级而未获认定、"
    "现数据显示达标或待核实的企业另列于再申报名单（同一运行的 reapply/<省份代码>.csv 与 .xlsx），"
    "不混入本名单；本轮已申报该层级的企业两份名单均不列。"
)
# The re-application list (issue 24): the invitation list's columns and the last application.
_REAPPLY_OWN_LABELS = {
    "rank": ("排名", 6, "本名单内按认定概率由高到低的名次（无排序模型时按排序得分；1 为最高）"),
    "last_round": ("上次申报年度", 10, "该企业最近一次申报本层级的年度（申报轮次）"),
    "last_outcome": (
        "上次申报结果",
        12,
        "未通过［rejected］；撤回［withdrawn］；曾获认定［approved］：但数据未显示有效期内的"
        "本层级称号（已到期、被撤销或认定记录缺失），请核实。方括号内为 CSV 文件中的代码",
    ),
}
REAPPLY_LABELS = {c: _REAPPLY_OWN_LABELS.get(c) or COLUMN_LABELS[c] for c in REAPPLY_COLUMNS}
REAPPLY_NOTE = (
    "再申报名单列出曾申报本层级而未获认定（最近一次申报未通过或撤回）、现在数据显示无任何不达标"
    "指标（初筛结论为达标或待核实）的企业，以及曾获认定、但数据未显示有效期内本层级称号的企业"
    "（上次申报结果为“曾获认定”，请核实）。这些企业省级主管部门已经掌握，不是主动发现的企业：本名单"
    "单独发布，从不混入邀请名单；本轮已申报该层级的企业不列入。与邀请名单相同，认定标准不降低"
    "（第九条），观察名单上的企业不列入；是否认定以审核为准。"
)
REAPPLY_ORDER = {
    "champion": "排序：按认定概率（若现在申报被认定的概率）由高到低；概率相同按统一社会信用代码。"
    "这些企业曾自行申报过，因此不按邀请优先度（考虑自主申报概率）排序。",
    "rule_baseline": "排序：本次尚无训练好的排序模型，认定概率未估计，按规则基线的排序得分"
    "由高到低；得分相同按统一社会信用代码。",
}
# Columns that hold codes (outputs.md): the CSV keeps the code, a sheet shows its Chinese name.
CODED_COLUMNS: Mapping[str, Callable[[object], str]] = {
    "tier": partial(label, TIER_LABELS),
    "outcome": partial(label, OUTCOME_LABELS),
    "last_outcome": partial(label, LAST_OUTCOME_LABELS),
    "title": partial(label, TITLE_LABELS),
    "ground": partial(label, GROUND_LABELS),
    "new": partial(label, BOOLEAN_LABELS),
    "basis": basis_text,
}


def named(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as people read them: each coded column's values by their Chinese names
    (CODED_COLUMNS); missing values stay missing."""
    shown = rows.copy()
    for column, name in CODED_COLUMNS.items():
        if column in shown.columns:
            shown[column] = shown[column].map(name, na_action="ignore")
    return shown


WATCH_LABELS = {
    "credit_code": ("统一社会信用代码", 21, "企业统一社会信用代码"),
    "name": ("企业名称", 36, "登记注册的现用名称"),
    "region_code": ("行政区划代码", 12, "注册地 6 位行政区划代码"),
    "title": (
        "称号",
        16,
        "有效期内的最高称号：专精特新中小企业［specialized_sme］；专精特新“小巨人”企业"
        "［little_giant］。方括号内为 CSV 文件中的代码",
    ),
    "expires_on": ("有效期至", 12, "所持称号的有效期截止日"),
    "ground": (
        "风险事由",
        22,
        "数据显示的风险事由（第十一、十七至二十条）；CSV 文件中为事由代码",
    ),
    "article": ("依据条款", 20, "《优质中小企业梯度培育管理办法》条款"),
    "since": ("发生日期", 12, "事由发生或首次列出的日期"),
    "evidence": ("事由依据", 80, "事由所依据的数据与记录"),
    "action": ("处置建议", 16, "重点监测 / 核实后取消认定 / 报工业和信息化部 / 转迁入地"),
    "new": (
        "本期新增",
        10,
        "是：上一次发布的运行中没有这一事由（CSV 文件中为 ［true］／［false］）",
    ),
    "basis": (
        "事由细项",
        24,
        "不再符合的指标：名称（条款）［指标编号］；或重大变化的类型与日期",
    ),
}
WATCH_NOTE = (
    "观察名单列出有效期内、数据显示存在风险事由的专精特新中小企业和“小巨人”企业（第十四、十七至"
    "二十一条）；是否取消认定以核实为准。"
)


FUNNEL_LABELS = {
    "province": "省份",
    "registry": "登记企业",
    "candidates": "候选企业",
    "already_certified": "已获称号",
    "ineligible": "不符合",
    "eligible": "达标",
    "to_verify": "待核实",
    "invited": "邀请",
    "reapply": "再申报",
}
