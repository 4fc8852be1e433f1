"""The re-application list in the service (issue 24): per province, the invitable firms the
province already knows — their last application for the tier, in an earlier round, was not
approved (or was, but no valid title of the tier stands) — published apart from the
invitation list, which holds discoveries only (reapply/<province>.csv and .xlsx).

The same access rules as the invitation lists: the caller's token through the app's own
dependencies (which also name the caller in the audit log), a province token reads its own
province only, and anything else answers 404 exactly as if it did not exist; a province whose
task failed in the run answers with the failure notice. Every route names the province in its
path, so the audit middleware logs each request. Pages read through the list's row index
(index/reapply/<province>.parquet), as the invitation pages do.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from core.run_layout import REAPPLY_COLUMNS
from models.list_labels import REAPPLY_LABELS
from service.api_models import ErrorBody, ListParams, Province, ReapplyPage, RunId
from service.deps import NOT_FOUND, readable_province, service
from service.pages import tier_sections
from service.run_index import PagedList
from service.run_listing import MEDIA_TYPES, FileFormat, RunData, published_download
from service.run_reads import InvitationQuery, invitation_page
from service.tokens import Principal

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "缺少令牌、令牌无效或已停用"},
    404: {"model": ErrorBody, "description": "不存在，或不属于本令牌可读的省份"},
}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "未登录：转到登录页"},
    404: {"content": {"text/html": {}}, "description": "不存在，或不属于本令牌可读的省份"},
    422: {"content": {"text/html": {}}, "description": "请求参数有误"},
}


def reapply_router(
    api_user: Callable[..., Principal | Awaitable[Principal]],
    page_user: Callable[..., Principal | Awaitable[Principal]],
    templates: Jinja2Templates,
) -> APIRouter:
    """JSON, download and page routes of the re-application list, behind the app's token
    dependencies."""
    router = APIRouter()
    ApiUser = Annotated[Principal, Depends(api_user)]
    PageUser = Annotated[Principal, Depends(page_user)]

    def readable(
        request: Request, user: Principal, run_id: str, province: str
    ) -> tuple[RunData, PagedList]:
        # Province wall first, then the run (`latest` resolved and named in the audit line).
        run = readable_province(request, user, run_id, province)
        listed = service(request).store.reapply(run, province)
        if listed is None:  # no such province, or a run published before the list existed
            raise HTTPException(404, NOT_FOUND)
        return run, listed

    def reapply_page(
        run: RunData, province: str, listed: PagedList, params: ListParams
    ) -> ReapplyPage:
        query = InvitationQuery(**params.model_dump())
        total, rows = invitation_page(listed, query, REAPPLY_COLUMNS)
        return ReapplyPage.model_validate(
            {
                "run_id": run.run_id,
                "province": province,
                "total": total,
                "page": params.page,
                "page_size": params.page_size,
                "items": rows,
            }
        )

    @router.get(
        "/api/v1/runs/{run_id}/provinces/{province}/reapply",
        tags=["api"],
        summary="一省的再申报名单：曾申报未获认定、现数据显示达标或待核实的企业（不混入邀请名单）",
        responses=ERRORS,
    )
    def reapply(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[ListParams, Query()],
        user: ApiUser,
    ) -> ReapplyPage:
        run, listed = readable(request, user, run_id, province)
        return reapply_page(run, province, listed, params)

    @router.get(
        "/api/v1/runs/{run_id}/provinces/{province}/reapply/download/{file_format}",
        tags=["api"],
        summary="下载一省的再申报名单（csv 或 xlsx）",
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
        run, _ = readable(request, user, run_id, province)
        found = published_download(
            run.reapply_files, province, file_format, "再申报名单", run.run_id
        )
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        return found

    @router.get(
        "/runs/{run_id}/provinces/{province}/reapply",
        tags=["pages"],
        summary="一省的再申报名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def reapply_view(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[ListParams, Query()],
        user: PageUser,
    ) -> HTMLResponse:
        run, listed = readable(request, user, run_id, province)
        sections = tier_sections(
            request, params, lambda own: reapply_page(run, province, listed, own)
        )
        context = {
            "user": user,
            "run_id": run.run_id,
            "province": province,
            "sections": sections,
            "params": params,
            "labels": REAPPLY_LABELS,
        }
        return templates.TemplateResponse(request, "reapply.html", context)

    return router
