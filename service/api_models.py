"""Request parameters and JSON bodies of the service: the OpenAPI schema comes from these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from features.schemas import CREDIT_CODE_CHARSET
from models.labels import (
    CRITERION_LABELS,
    LAST_OUTCOME_LABELS,
    MODE_LABELS,
    MODEL_VERSION_LABELS,
    OUTCOME_LABELS,
    TASK_LABELS,
    TIER_LABELS,
    VERDICT_LABELS,
    label,
)
from service.run_listing import RUN_ID_PATTERN
from service.run_reads import SortField, SortOrder
from service.tokens import PROVINCE_PATTERN, Role

Tier = Literal["specialized", "little_giant"]
ListOutcome = Literal["eligible", "to_verify"]  # the only outcomes an invitation list holds
TableName = Literal["cultivation", "renewals"]
Outcome = Literal["eligible", "to_verify", "ineligible", "already_certified"]
CREDIT_CODE_PATTERN = f"^[{CREDIT_CODE_CHARSET}]{{18}}$"  # GB 32100-2015: 18 characters
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 500
MAX_SEARCH = 100

RUN_ID_DOC = "运行编号，或 latest（最新一次完整运行）"
PROVINCE_DOC = "省级行政区划代码前两位，例如 44"
CREDIT_CODE_DOC = "统一社会信用代码（18 位，GB 32100-2015 字符集，大写）"
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=80, description=RUN_ID_DOC)]
Province = Annotated[str, Path(pattern=PROVINCE_PATTERN, description=PROVINCE_DOC)]
CreditCode = Annotated[str, Path(pattern=CREDIT_CODE_PATTERN, description=CREDIT_CODE_DOC)]


def _blank_is_none(value: object) -> object:
    """An empty form field (the HTML filter form sends `tier=`) means no filter."""
    return None if value == "" else value


class ListParams(BaseModel):
    """Filters, order and page of an invitation list."""

    tier: Tier | None = Field(None, description="层级：specialized 或 little_giant")
    outcome: ListOutcome | None = Field(None, description="初筛结论：eligible 或 to_verify")
    min_score: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="最低模型得分（0 到 1）"
    )
    q: str | None = Field(
        None, max_length=MAX_SEARCH, description="按企业名称（包含）或信用代码（前缀）检索"
    )
    sort: SortField = Field("rank", description="排序字段")
    order: SortOrder = Field("asc", description="asc 升序，desc 降序")
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description="每页行数")

    @field_validator("tier", "outcome", "min_score", "q", mode="before")
    @classmethod
    def _blank_means_all(cls, value: object) -> object:
        return _blank_is_none(value)


class TableParams(BaseModel):
    """Filters and page of the cultivation and renewal lists."""

    tier: Tier | None = Field(None, description="层级：specialized 或 little_giant")
    outcome: Outcome | None = Field(None, description="复核结论（仅复核名单）")
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description="每页行数")

    @field_validator("tier", "outcome", mode="before")
    @classmethod
    def _blank_means_all(cls, value: object) -> object:
        return _blank_is_none(value)


class ErrorBody(BaseModel):
    detail: str


class Me(BaseModel):
    token_id: str
    name: str
    role: Role
    province: str | None


class FailedProvince(BaseModel):
    province: str
    task: str = Field(description="失败的任务，例如 province（省级指标判定、评分与名单生成）")
    error: str = Field(description="错误类型与信息（一行）")
    previous_run: str | None = Field(
        description="上一次发布该省名单的运行编号（仍可查看）；此前没有发布过则为空"
    )

    @computed_field(description="失败任务的中文名称")  # type: ignore[prop-decorator]
    @property
    def task_label(self) -> str:
        return label(TASK_LABELS, self.task)


class RunSummary(BaseModel):
    run_id: str
    as_of: str | None
    model_version: str | None
    config_hash: str | None
    latest: bool
    provinces: list[str] = Field(description="本令牌可读、且本次运行发布了邀请名单的省份")
    failed_provinces: list[FailedProvince] = Field(
        default_factory=list,
        description="本令牌可读、本次运行中处理失败而未发布名单的省份，及其上一次名单所在的运行",
    )
    funnel: list[dict[str, Any]] = Field(description="各省各层级筛选漏斗（仅可读省份）")
    counts: dict[str, Any] | None = Field(None, description="全国各阶段数量（仅部级令牌）")

    @computed_field(description="模型版本；无训练模型时为“无（按规则基线排序）”")  # type: ignore[prop-decorator]
    @property
    def model_version_label(self) -> str:
        return label(MODEL_VERSION_LABELS, self.model_version)


class RunList(BaseModel):
    latest: str | None
    runs: list[RunSummary]


class InvitationRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rank: int | None
    credit_code: str
    name: str | None
    region_code: str | None
    tier: str
    outcome: str
    score: float | None
    p_qualify: float | None = None
    p_apply: float | None = None
    priority: float | None = None
    est_score_low: float | None = None
    est_score_high: float | None = None
    p_score_pass: float | None = None
    reasons: str | None
    to_verify: str | None
    declarations: str | None
    evidence: str | None

    @computed_field(description="层级的中文名称")  # type: ignore[prop-decorator]
    @property
    def tier_label(self) -> str:
        return label(TIER_LABELS, self.tier)

    @computed_field(description="初筛结论的中文名称")  # type: ignore[prop-decorator]
    @property
    def outcome_label(self) -> str:
        return label(OUTCOME_LABELS, self.outcome)


class InvitationPage(BaseModel):
    run_id: str
    province: str
    total: int
    page: int
    page_size: int
    items: list[InvitationRow]


class ReapplyRow(InvitationRow):
    """A re-application list row: an invitation row and the firm's last application for the
    tier (issue 24)."""

    last_round: int | None = Field(None, description="最近一次申报本层级的年度（申报轮次）")
    last_outcome: str | None = Field(
        None,
        description="最近一次申报的结果：rejected 未通过、withdrawn 撤回；approved 曾获认定，"
        "但数据未显示有效期内的本层级称号（请核实）",
    )

    @field_validator("last_round", "last_outcome", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        return _blank_is_none(value)

    @computed_field(description="上次申报结果的中文名称")  # type: ignore[prop-decorator]
    @property
    def last_outcome_label(self) -> str:
        return label(LAST_OUTCOME_LABELS, self.last_outcome)


class ReapplyPage(BaseModel):
    run_id: str
    province: str
    total: int
    page: int
    page_size: int
    items: list[ReapplyRow]


class TablePage(BaseModel):
    run_id: str
    province: str
    total: int
    page: int
    page_size: int
    items: list[dict[str, Any]]


class CriterionVerdict(BaseModel):
    criterion: str
    verdict: str
    evidence: str

    @computed_field(description="指标名称与条款，例如 细分市场年限（附件1（一））")  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return label(CRITERION_LABELS, self.criterion)

    @computed_field(description="结论的中文名称")  # type: ignore[prop-decorator]
    @property
    def verdict_label(self) -> str:
        return label(VERDICT_LABELS, self.verdict)


class TierEvidence(BaseModel):
    tier: str
    mode: str = Field(description="discovery（主动发现）或 renewal（复核）")
    outcome: str | None
    criteria: list[CriterionVerdict]
    data_gaps: list[str] = Field(description="数据不足以判断（unknown）的指标")
    failing: list[str] = Field(description="数据显示不达标（fail）的指标")
    invitation: InvitationRow | None = Field(description="在邀请名单中的条目（如有）")
    reapply: ReapplyRow | None = Field(None, description="在再申报名单中的条目（如有）")
    renewal: dict[str, Any] | None = Field(description="复核名单条目（如有）")
    cultivation: dict[str, Any] | None = Field(description="培育名单条目（如有）")

    @computed_field(description="层级的中文名称")  # type: ignore[prop-decorator]
    @property
    def tier_label(self) -> str:
        return label(TIER_LABELS, self.tier)

    @computed_field(description="判定方式的中文名称")  # type: ignore[prop-decorator]
    @property
    def mode_label(self) -> str:
        return label(MODE_LABELS, self.mode)

    @computed_field(description="结论的中文名称")  # type: ignore[prop-decorator]
    @property
    def outcome_label(self) -> str:
        return label(OUTCOME_LABELS, self.outcome)

    @computed_field(description="数据不足的指标：名称与条款")  # type: ignore[prop-decorator]
    @property
    def data_gap_labels(self) -> list[str]:
        return [label(CRITERION_LABELS, c) for c in self.data_gaps]

    @computed_field(description="不达标的指标：名称与条款")  # type: ignore[prop-decorator]
    @property
    def failing_labels(self) -> list[str]:
        return [label(CRITERION_LABELS, c) for c in self.failing]


class FirmDetail(BaseModel):
    run_id: str
    credit_code: str
    name: str | None
    region_code: str | None
    province: str | None
    tiers: list[TierEvidence]
