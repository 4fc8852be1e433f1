"""The run's report for people (report.html): one self-contained page, every code shown by
its Chinese name, the charts drawn without text (their legends are the page's).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import pandas as pd

from features.safe_cells import safe_text
from models.labels import (
    GROUND_LABELS,
    MODEL_VERSION_LABELS,
    TASK_LABELS,
    TIER_ANNEXES,
    TIER_LABELS,
    label,
    table_text,
    with_code,
)
from models.list_labels import FUNNEL_LABELS, WATCH_LABELS, named
from models.watchlist import coverage_tables

_IMG = '<img alt="图表" src="data:image/png;base64,{}" style="max-width:100%">'
# The funnel chart's bars (stage → colour); its legend is the page's, in Chinese.
FUNNEL_STAGES = {
    "candidates": "#1f77b4",
    "eligible": "#2ca02c",
    "to_verify": "#ff7f0e",
    "invited": "#d62728",
}
SCORE_COLOUR = "#1f4e78"


def write_report_html(
    path: Path,
    manifest: Mapping[str, object],
    funnel: pd.DataFrame,
    lists: pd.DataFrame,
    watchlist: pd.DataFrame | None = None,
    watch_summary: Mapping[str, object] | None = None,
) -> None:
    """A self-contained page for people: the provinces that failed (first, where no one can
    miss them), a section per tier with its funnel per province and charts, the re-application
    counts, the watch list per province, and the run's main counts. Every code is shown by its
    Chinese name (models.labels); the codes stay in the CSV files and the manifest."""
    counts = manifest.get("counts", {})
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>优质中小企业主动发现 — {html.escape(str(manifest.get("run_id", "")))}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 4px 10px; text-align: right; }}
th {{ background: #1f4e78; color: #fff; }}
td:first-child, td:nth-child(2) {{ text-align: left; }}
.note {{ color: #555; max-width: 60em; }}
.swatch {{ display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 1em; }}
table.text td {{ text-align: left; }}
</style></head><body>
<h1>优质中小企业主动发现 · 运行报告</h1>
<p>运行编号 {html.escape(str(manifest.get("run_id", "")))} · 评估日期
{html.escape(str(manifest.get("as_of", "")))} · 模型版本
{html.escape(label(MODEL_VERSION_LABELS, manifest.get("model_version")))}</p>
<p class="note">依据《优质中小企业梯度培育管理办法》（工信部企业〔2026〕2号）第九条：
名单只包含数据显示无任何不达标指标的企业（认定标准不降低）；“待核实”表示部分指标需企业申报时提供材料。模型得分仅用于排序。</p>
{failed_section(manifest.get("failed_provinces"))}
<h2>各省筛选漏斗</h2>
{"".join(_tier_section(funnel, lists, tier) for tier in TIER_LABELS)}
{_reapply_section(funnel)}
{_watchlist_section(watchlist, watch_summary)}
{_counts_section(_mapping(counts))}
</body></html>
"""
    path.write_text(safe_text(page), encoding="utf-8")  # no control character from the data


def _tier_section(funnel: pd.DataFrame, lists: pd.DataFrame, tier: str) -> str:
    """One tier apart: its funnel per province, the funnel chart and the scores of the invited
    firms (charts carry no text: their legends are the page's)."""
    rows = funnel[funnel["tier"] == tier].drop(columns="tier")
    heading = f"{TIER_LABELS[tier]}（{TIER_ANNEXES[tier]}）"
    parts = [f'<section id="funnel-{tier}">', f"<h3>{html.escape(heading)}</h3>"]
    if rows.empty:
        parts.append("<p>本次运行没有该层级的数据。</p></section>")
        return "\n".join(parts)
    table = rows.rename(columns=FUNNEL_LABELS)
    parts.append(table.to_html(index=False, border=0))
    legend = "".join(
        f'<span class="swatch" style="background:{colour}"></span>'
        f"{html.escape(FUNNEL_LABELS[stage])}"
        for stage, colour in FUNNEL_STAGES.items()
    )
    parts.append(
        f"<figure>{_IMG.format(_funnel_chart(rows))}"
        f"<figcaption>各省{html.escape(TIER_LABELS[tier])}筛选漏斗（横轴：省份代码，纵轴：企业数，"
        f"对数刻度）：{legend}</figcaption></figure>"
    )
    scores = lists.loc[lists["tier"] == tier, "score"].dropna()
    if len(scores):
        parts.append(
            f"<figure>{_IMG.format(_score_chart(scores))}"
            f"<figcaption>{html.escape(TIER_LABELS[tier])}邀请名单的排序得分分布"
            "（横轴：排序得分，纵轴：企业数）</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _counts_section(counts: Mapping[str, object]) -> str:
    """The run's main counts in words (every count, by code, is in manifest.json)."""
    matching, watch = (_mapping(counts.get(key)) for key in ("matching", "watchlist"))
    lines = [
        ("登记企业", counts.get("firms")),
        ("拒收的输入行", counts.get("rejected_rows")),
        ("无法确定所属省份的企业", counts.get("firms_without_province")),
        ("企业名称提及", matching.get("mentions")),
        ("已匹配到登记企业的提及", matching.get("linked")),
        ("待人工复核的提及", matching.get("review")),
        ("按人工复核结论匹配的提及", matching.get("decided")),
        ("发布名单的省份", counts.get("provinces")),
        ("邀请名单企业", counts.get("invited")),
        ("再申报名单企业", counts.get("reapply")),
        ("观察名单事由", watch.get("rows")),
        ("观察名单企业", watch.get("firms")),
        ("观察名单本期新增事由", watch.get("new")),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(value))}</td></tr>"
        for name, value in lines
        if value is not None
    )
    if not rows:
        return ""
    return (
        "<h2>各阶段数量</h2>\n"
        '<p class="note">全部计数（含各数据表的读取情况）见同一运行目录的 manifest.json。</p>\n'
        f'<table id="counts"><tr><th>项目</th><th>数量</th></tr>{rows}</table>'
    )


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def failed_section(failed: object) -> str:
    """The report's notice of provinces whose task failed (manifest `failed_provinces`): which
    province, which task, the error, and where its previous published list lies (the report
    sits in the run directory, so `../<run>/…` is the other run's file). Empty when none."""
    entries = [e for e in failed if isinstance(e, Mapping)] if isinstance(failed, list) else []
    if not entries:
        return ""
    rows = []
    for entry in entries:
        province = str(entry.get("province", ""))
        task = str(entry.get("task", ""))
        previous = entry.get("previous_run")
        if previous:
            relative = html.escape(f"../{previous}/invitations/{province}.csv")
            where = (
                f'运行 {html.escape(str(previous))}：<a href="{relative}">{relative}</a>'
                f"（同一目录下另有 .xlsx）"
            )
        else:
            where = "无：此前没有发布过该省的名单"
        rows.append(
            f"<tr><td>{html.escape(province)}</td>"
            f"<td>{html.escape(with_code(label(TASK_LABELS, task), task))}</td>"
            f'<td style="text-align:left">{html.escape(str(entry.get("error", "")))}</td>'
            f'<td style="text-align:left">{where}</td></tr>'
        )
    names = "、".join(html.escape(str(e.get("province", ""))) for e in entries)
    return f"""<section id="failed-provinces" style="border:3px solid #a00; background:#fff3f3;
padding:.5em 1.5em; margin:1.5em 0;">
<h2 style="color:#a00">本次运行有省份处理失败：{names}</h2>
<p>下列省份的处理任务失败，本次<strong>没有</strong>发布这些省份的邀请名单、再申报名单、培育名单、复核名单和观察名单；
其他省份的名单已正常发布。失败省份请继续使用上一次发布的名单（下表列出其位置），待运维人员排除故障、重新运行后再使用新名单。</p>
<table>
<tr><th>省份</th><th>失败的任务</th><th>错误信息</th><th>上一次发布的名单</th></tr>
{"".join(rows)}
</table>
</section>"""


def _reapply_section(funnel: pd.DataFrame) -> str:
    """A line per province and tier with the size of its re-application list (the funnel's
    `reapply` column); empty for a funnel without one."""
    if "reapply" not in funnel.columns:
        return ""
    lines = "".join(
        f"<li>省份 {html.escape(str(row.province))} · "
        f"{html.escape(label(TIER_LABELS, row.tier))}：再申报名单 "
        f"{int(row.reapply)} 家（邀请名单 {int(getattr(row, 'invited', 0))} 家）</li>"
        for row in funnel.sort_values(["province", "tier"]).itertuples(index=False)
    )
    return (
        "<h2>再申报名单</h2>\n"
        '<p class="note">邀请名单只列主动发现的企业（截至评估日没有该层级申报记录）。曾申报该层级而'
        "未获认定、现在数据显示达标或待核实的企业另列于再申报名单 reapply/&lt;省份代码&gt;.csv 与 "
        ".xlsx，按认定概率排序，从不混入邀请名单；本轮已申报的企业两份名单均不列。</p>\n"
        f'<ul id="reapply-counts">{lines}</ul>'
    )


WATCH_REPORT_COLUMNS = [
    "credit_code",
    "name",
    "title",
    "ground",
    "article",
    "since",
    "action",
    "new",
    "evidence",
]


def _watchlist_section(watchlist: pd.DataFrame | None, summary: Mapping[str, object] | None) -> str:
    """Per province: counts by ground and action, the new grounds, and the rows themselves."""
    if watchlist is None:
        return ""
    parts = [
        '<h2 id="watchlist">观察名单（有进有出，第十四、十七至二十一条）</h2>',
        '<p class="note">有效期内的专精特新中小企业和“小巨人”企业中，数据显示存在风险事由者；'
        "按严重程度、再按发生日期排序。“本期新增”指上一次发布的运行中没有的事由。</p>",
    ]
    coverage = (summary or {}).get("coverage") or {}
    unknown = (
        {k: v for k, v in coverage.items() if v != "known"} if isinstance(coverage, Mapping) else {}
    )
    if unknown:
        items = "".join(
            f"<li>{html.escape(label(GROUND_LABELS, ground))}：缺少数据表 "
            f"{html.escape('、'.join(table_text(t) for t in coverage_tables(str(status))))}</li>"
            for ground, status in unknown.items()
        )
        parts.append(f"<p>以下事由因数据缺失无法判断：</p><ul>{items}</ul>")
    if watchlist.empty:
        parts.append("<p>本次运行没有观察名单企业。</p>")
        return "\n".join(parts)
    for province, rows in watchlist.groupby("province", sort=True):
        counts = rows.groupby(["ground", "action"]).size().rename("企业事由数").reset_index()
        counts["ground"] = counts["ground"].map(partial(label, GROUND_LABELS))
        counts = counts.rename(columns={"ground": "风险事由", "action": "处置建议"})
        table = rows[WATCH_REPORT_COLUMNS].copy()
        table["since"] = pd.to_datetime(table["since"], errors="coerce").dt.strftime("%Y-%m-%d")
        table["new"] = table["new"].map(lambda new: "true" if new in (True, "true") else "false")
        table = named(table).rename(columns={c: WATCH_LABELS[c][0] for c in WATCH_REPORT_COLUMNS})
        new = int(rows["new"].isin([True, "true"]).sum())
        parts.append(
            f"<h3>省份 {html.escape(str(province))}：{len(rows)} 条事由，"
            f"{rows['credit_code'].nunique()} 家企业，本期新增 {new} 条</h3>"
        )
        parts.append(counts.to_html(index=False, border=0))
        parts.append(table.to_html(index=False, border=0, na_rep="", classes="text"))
    return "\n".join(parts)


def _funnel_chart(rows: pd.DataFrame) -> str:
    """Bars per province for one tier's stages (FUNNEL_STAGES' colours), log scale; no text
    but the axes' figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in FUNNEL_STAGES if s in rows.columns]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    values = rows.set_index("province")[stages]
    values.plot.bar(ax=axis, logy=True, rot=0, color=[FUNNEL_STAGES[s] for s in stages])
    legend = axis.get_legend()
    if legend is not None:
        legend.remove()
    axis.set_xlabel("")
    figure.tight_layout()
    return _png(figure)


def _score_chart(scores: pd.Series) -> str:
    """A histogram of one tier's invited firms' scores; no text but the axes' figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.0))
    axis.hist(scores.astype("float64"), bins=20, color=SCORE_COLOUR)
    figure.tight_layout()
    return _png(figure)


def _png(figure: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return base64.b64encode(buffer.getvalue()).decode()
