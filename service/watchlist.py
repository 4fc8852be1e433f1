"""The watch list in the service (第十四、十七至二十一条): one province's titled firms at risk.

The same access rules as the invitation lists: the caller's token through the app's own
dependencies (which also name the caller in the audit log), a province token reads its own
province only, and anything else answers 404 exactly as if it did not exist. Every route names
the province in its path, so the audit middleware logs each request.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator

from core.run_layout import WATCHLIST
from models.labels import BOOLEAN_LABELS, GROUND_LABELS, TITLE_LABELS, label
from models.list_labels import WATCH_LABELS
from models.watchlist_config import GROUNDS
from service.api_models import (
    MAX_PAGE,
    MAX_PAGE_SIZE,
    ErrorBody,
    Province,
    RunId,
    _blank_is_none,
)
from service.deps import readable_province
from service.run_listing import (
    MEDIA_TYPES,
    DownloadResponse,
    FileFormat,
    is_directory,
    regular_file,
)
from service.run_reads import records
from service.tokens import Principal

NOT_FOUND = "未找到"
Ground = Literal[GROUNDS]  # type: ignore[valid-type]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "缺少令牌、令牌无效或已停用"},
    404: {"model": ErrorBody, "description": "不存在，或不属于本令牌可读的省份"},
}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "未登录：转到登录页"},
    404: {"content": {"text/html": {}}, "description": "不存在，或不属于本令牌可读的省份"},
}


class WatchParams(BaseModel):
    """Filters and page of a watch list."""

    ground: Ground | None = Field(None, description="风险事由")
    new: bool | None = Field(None, description="true：只看本期新增的事由")
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description="每页行数")

    @field_validator("ground", "new", mode="before")
    @classmethod
    def _blank_means_all(cls, value: object) -> object:
        return _blank_is_none(value)


class WatchPage(BaseModel):
    run_id: str
    province: str
    total: int
    page: int
    page_size: int
    items: list[dict[str, Any]]


def watchlist_file(run: Path, province: str, file_format: str) -> Path | None:
    """The run's watch-list file: a regular file inside the run's own `watchlist/` folder, never
    a symlink (the same rule as every other file the service serves)."""
    folder = run / WATCHLIST
    if not is_directory(folder):
        return None
    return regular_file(folder / f"{province}.{file_format}", folder)


def watch_page(path: Path, run_id: str, province: str, params: WatchParams) -> WatchPage:
    rows = pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig")
    if params.ground is not None:
        rows = rows[rows["ground"] == params.ground]
    if params.new is not None:
        rows = rows[rows["new"] == ("true" if params.new else "false")]
    start = (params.page - 1) * params.page_size
    return WatchPage(
        run_id=run_id,
        province=province,
        total=len(rows),
        page=params.page,
        page_size=params.page_size,
        items=[_labelled(row) for row in records(rows.iloc[start : start + params.page_size])],
    )


def _labelled(row: dict[str, Any]) -> dict[str, Any]:
    """A watch-list row with the names of its codes beside them (the CSV keeps the codes)."""
    return {
        **row,
        "title_label": label(TITLE_LABELS, row.get("title")),
        "ground_label": label(GROUND_LABELS, row.get("ground")),
        "new_label": label(BOOLEAN_LABELS, row.get("new")),
    }


def watchlist_router(
    api_user: Callable[..., Principal | Awaitable[Principal]],
    page_user: Callable[..., Principal | Awaitable[Principal]],
    templates: Jinja2Templates,
) -> APIRouter:
    """JSON, download and page routes of the watch list, behind the app's token dependencies."""
    router = APIRouter()
    ApiUser = Annotated[Principal, Depends(api_user)]
    PageUser = Annotated[Principal, Depends(page_user)]

    def readable(
        request: Request, user: Principal, run_id: str, province: str, file_format: str
    ) -> Path:
        # Province wall first, then the run (`latest` resolved and named in the audit line).
        run = readable_province(request, user, run_id, province)
        path = watchlist_file(run.path, province, file_format)
        if path is None:
            raise HTTPException(404, NOT_FOUND)
        return path

    def resolved_id(path: Path) -> str:
        return path.parent.parent.name

    @router.get(
        "/api/v1/runs/{run_id}/provinces/{province}/watchlist",
        tags=["api"],
        summary="一省的观察名单：有效期内、数据显示存在风险事由的获称号企业（第十四、十七至二十一条）",
        responses=ERRORS,
    )
    def watchlist(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[WatchParams, Query()],
        user: ApiUser,
    ) -> WatchPage:
        path = readable(request, user, run_id, province, "csv")
        return watch_page(path, resolved_id(path), province, params)

    @router.get(
        "/api/v1/runs/{run_id}/provinces/{province}/watchlist/download/{file_format}",
        tags=["api"],
        summary="下载一省的观察名单（csv 或 xlsx）",
        response_class=Response,
        responses={
            **ERRORS,
            200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "名单文件"},
        },
    )
    def download(
        request: Request,
        run_id: RunId,
        province: Province,
        file_format: FileFormat,
        user: ApiUser,
    ) -> Response:
        path = readable(request, user, run_id, province, file_format)
        return DownloadResponse(
            path,
            media_type=MEDIA_TYPES[file_format],
            filename=f"观察名单-{province}-{resolved_id(path)}.{file_format}",
        )

    @router.get(
        "/runs/{run_id}/provinces/{province}/watchlist",
        tags=["pages"],
        summary="一省的观察名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def watchlist_view(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[WatchParams, Query()],
        user: PageUser,
    ) -> HTMLResponse:
        path = readable(request, user, run_id, province, "csv")
        page = watch_page(path, resolved_id(path), province, params)
        context = {
            "user": user,
            "page": page,
            "params": params,
            "pages": max(1, -(-page.total // page.page_size)),
            "grounds": GROUNDS,
            "labels": WATCH_LABELS,
        }
        return templates.TemplateResponse(request, "watchlist.html", context)

    return router
