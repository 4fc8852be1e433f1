"""The officials' service: published runs, read-only, as JSON (`/api/v1`) and HTML pages.

Access (Articles 7-8 属地原则, Article 28 商业秘密): every data request carries a token — a
bearer header for programs — or a browser session opened by the login form (a random id in an
HttpOnly, SameSite=Strict, Secure cookie; service/sessions.py). A ministry token reads every
province; a province token reads its own only, and anything of another province answers 404,
exactly as if it did not exist.

Shared access checks live in service/deps.py; CSRF, audit, throttling and security headers are
middleware (service/security.py, service/audit.py), so routers from other modules, passed as
`routers=`, get them all.
"""

import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.run_layout import FailedProvinceEntry
from models.labels import TASK_LABELS, TIER_LABELS, criterion_items, label
from models.list_labels import CULTIVATION_LABELS, RENEWAL_LABELS
from service.api_models import (
    CreditCode,
    ErrorBody,
    FailedProvince,
    FirmDetail,
    InvitationPage,
    ListParams,
    Me,
    Province,
    RunId,
    RunList,
    RunSummary,
    TableName,
    TablePage,
    TableParams,
)
from service.audit import AuditLog, AuditMiddleware
from service.config import ServiceConfig, load_service_config
from service.deps import (
    COOKIE_NAME,
    NOT_FOUND,
    STATE_KEY,
    UNAUTHORIZED,
    ApiUser,
    LoginRequired,
    PageUser,
    ProvinceFailed,
    ServiceState,
    api_principal,
    client_address,
    cookie_scheme,
    note,
    page_principal,
    readable_province,
    readable_run,
    render,
    session_principal,
)
from service.pages import TEMPLATE_LABELS, labelled_row, page_count, tier_sections
from service.reapply import reapply_router
from service.run_listing import MEDIA_TYPES, FileFormat, RunData, published_download
from service.run_reads import InvitationQuery, firm_detail, invitation_page, table_page
from service.run_store import ByteCache, RunStore
from service.security import (
    CROSS_SITE,
    SAFE_METHODS,
    CrossSiteGuard,
    LoginThrottle,
    SecurityHeaders,
)
from service.sessions import SessionStore
from service.tokens import Principal, TokenFileError, TokenStore, presented_id
from service.watchlist import watchlist_router

__all__ = ["COOKIE_NAME", "UNAUTHORIZED", "create_app"]
TEMPLATES = Path(__file__).resolve().parent / "templates"
UNAVAILABLE = "服务暂不可用：访问令牌文件无法读取，请联系管理员"
TOO_MANY = "登录失败次数过多，请稍后再试"
log = logging.getLogger("zjtx.service")
SORT_LABELS = {
    "rank": "排名",
    "score": "模型得分",
    "name": "企业名称",
    "credit_code": "信用代码",
    "region_code": "行政区划",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "缺少令牌、令牌无效或已停用"},
    404: {"model": ErrorBody, "description": "不存在，或不属于本令牌可读的省份"},
}

ERROR_BODY_REF = "#/components/schemas/ErrorBody"
HTML: dict[str, dict[str, Any]] = {"text/html": {}}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "未登录：转到登录页"},
    404: {"content": HTML, "description": "不存在，或不属于本令牌可读的省份"},
    422: {"content": HTML, "description": "请求参数有误"},
}
LOGIN_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: {"description": "登录成功：设置会话 Cookie 并转到首页"},
    401: {"content": HTML, "description": "令牌无效或已停用"},
    403: {"description": "跨站请求，拒绝"},
    422: {"content": HTML, "description": "请求参数有误"},
    429: {"content": HTML, "description": "本地址登录失败次数过多，稍后再试"},
}


@dataclass(frozen=True)
class Rendered:
    """A page of a published run as a model (for the HTML pages) and as JSON bytes (for the
    API), made once: a published run never changes. `province`: whose data it shows."""

    model: Any
    body: bytes
    province: str | None = None

    def response(self) -> Response:
        return Response(self.body, media_type="application/json")


def rendered(model: BaseModel, province: str | None = None) -> tuple[Rendered, int]:
    body = model.model_dump_json().encode()
    return Rendered(model, body, province), len(body) * 4 + 1024  # the model about thrice


def create_app(
    runs_dir: Path,
    tokens_file: Path,
    audit_log: Path,
    *,
    secure_cookie: bool = True,
    config: ServiceConfig | None = None,
    routers: Iterable[APIRouter] = (),
    clock: Callable[[], float] = time.time,
    decisions_file: Path | None = None,
) -> FastAPI:
    """The application over `runs_dir`, with tokens from `tokens_file`, auditing to `audit_log`.

    `secure_cookie`: the service is reached over HTTPS (the default): the session cookie is
    Secure and responses carry HSTS. `routers`: more routes (other modules), which get the same
    access checks through service.deps and the same middleware. `clock`: for tests of expiry.
    `decisions_file`: the match decisions store (default $ZJTX_HOME/matching/decisions.sqlite).
    """
    settings = config or load_service_config()
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(TEMPLATE_LABELS, sort_labels=SORT_LABELS)
    templates.env.filters["criterion_items"] = criterion_items
    parts = ServiceState(
        store=RunStore(runs_dir, settings.cache.max_bytes),
        tokens=TokenStore(tokens_file),
        sessions=SessionStore(
            settings.sessions.lifetime_hours * 3600,
            settings.sessions.max_sessions,
            clock,
            max_per_token=settings.sessions.max_per_token,
        ),
        throttle=LoginThrottle(settings.login.max_failures, settings.login.window_seconds, clock),
        templates=templates,
        secure=secure_cookie,
    )
    cookie_max_age = int(settings.sessions.lifetime_hours * 3600)
    store = parts.store
    responses = ByteCache(settings.cache.responses_max_bytes)  # rendered pages of published runs

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests run in this many threads: each holds its own allocator arenas, and the GIL
        # lets one compute at a time, so the default 40 only adds memory and switching.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server.threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="优质中小企业主动发现 · 名单服务",
        description="已发布运行结果的只读服务：邀请名单、再申报名单、企业指标依据、培育与复核名单。"
        "省级令牌只能读取本省数据（第七、八条属地原则；第二十八条保护商业秘密）。",
        version="1.0",
        docs_url=None,
        redoc_url=None,
    )
    setattr(app.state, STATE_KEY, parts)
    # Outermost last: headers on every answer, the audit line before it leaves, then CSRF.
    app.add_middleware(CrossSiteGuard)
    app.add_middleware(AuditMiddleware, log=AuditLog(audit_log))
    app.add_middleware(SecurityHeaders, hsts=secure_cookie)
    for router in routers:  # first, so that their paths win over the core's path patterns
        app.include_router(router)
    app.include_router(watchlist_router(api_principal, page_principal, templates))
    app.include_router(reapply_router(api_principal, page_principal, templates))

    def firm_page(run: RunData, code: str) -> tuple[Rendered, int]:
        """A firm's page, rendered once per run (a published run never changes)."""
        detail = firm_detail(store, run, code, lambda _: True)
        if detail is None:
            return Rendered(None, b"", None), 256
        return rendered(FirmDetail.model_validate(detail), detail["province"])

    def readable(request: Request, user: Principal, page: Rendered) -> Rendered:
        """The firm's province is checked and audited on every request."""
        note(request, province=page.province)
        if page.model is None or not user.can_read(page.province):
            raise HTTPException(404, NOT_FOUND)
        return page

    def readable_firm(request: Request, user: Principal, run_id: str, code: str) -> Rendered:
        run = readable_run(request, run_id)
        page = responses.get(("firm", run.path, code), lambda: firm_page(run, code))
        return readable(request, user, page)

    def summary(run: RunData, user: Principal, latest: str | None) -> RunSummary:
        manifest = run.manifest
        return RunSummary(
            run_id=run.run_id,
            as_of=_text(manifest.get("as_of")),
            model_version=_text(manifest.get("model_version")),
            config_hash=_text(manifest.get("config_hash")),
            latest=run.run_id == latest,
            provinces=[p for p in run.provinces if user.can_read(p)],
            failed_provinces=[
                FailedProvince(**{**entry, "previous_run": still_published(entry)})
                for province, entry in sorted(run.failed.items())
                if user.can_read(province)
            ],
            funnel=[
                {**row, "tier_label": label(TIER_LABELS, row.get("tier"))}
                for row in run.funnel()
                if user.can_read(str(row.get("province")))
            ],
            counts=manifest.get("counts") if user.role == "ministry" else None,
        )

    def still_published(failure: FailedProvinceEntry) -> str | None:
        """The run holding a failed province's previous list, while it is published."""
        previous = failure.get("previous_run")
        return previous if previous and store.resolve(previous) is not None else None

    def run_list_key(user: Principal) -> tuple[Hashable, Callable[[], tuple[Rendered, int]]]:
        """From each run's manifest and file names only: no table is read. Rendered once per
        state of the runs directory and reader's scope."""
        listing = store.listing()

        def load() -> tuple[Rendered, int]:
            latest, runs = store.published()
            return rendered(RunList(latest=latest, runs=[summary(r, user, latest) for r in runs]))

        return ("runs", listing.stamp, user.role, user.province), load

    def run_list(user: Principal) -> Rendered:
        return responses.get(*run_list_key(user))

    def list_page_key(
        run: RunData, province: str, params: ListParams
    ) -> tuple[Hashable, Callable[[], tuple[Rendered, int]]]:
        if province not in run.list_files:
            raise HTTPException(404, NOT_FOUND)

        def load() -> tuple[Rendered, int]:
            query = InvitationQuery(**params.model_dump())
            total, rows = invitation_page(store.invitations(run, province), query)
            page = {
                "run_id": run.run_id,
                "province": province,
                "total": total,
                "page": params.page,
                "page_size": params.page_size,
                "items": rows,
            }
            return rendered(InvitationPage.model_validate(page))

        return ("list", run.path, province, tuple(sorted(params.model_dump().items()))), load

    def list_page(run: RunData, province: str, params: ListParams) -> Rendered:
        return responses.get(*list_page_key(run, province, params))

    def published_table(
        run: RunData, which: TableName, province: str, params: TableParams
    ) -> TablePage:
        frame = store.table(run, which)
        outcome = params.outcome if which == "renewals" else None
        total, rows = table_page(
            frame, {province}, params.tier, outcome, params.page, params.page_size
        )
        return TablePage(
            run_id=run.run_id,
            province=province,
            total=total,
            page=params.page,
            page_size=params.page_size,
            items=[labelled_row(row) for row in rows],
        )

    # ---------------------------------------------------------------- JSON
    @app.get("/healthz", tags=["service"], summary="服务是否在运行（无需令牌）")
    def healthz(request: Request) -> JSONResponse:
        problem = parts.tokens.problem()
        if problem is not None:
            return JSONResponse({"status": "unavailable", "tokens": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/api/v1/me", tags=["api"], summary="当前令牌的身份与权限", responses=ERRORS)
    def me(user: ApiUser) -> Me:
        return Me(token_id=user.token_id, name=user.name, role=user.role, province=user.province)

    @app.get(
        "/api/v1/runs",
        tags=["api"],
        summary="已发布的运行",
        responses=ERRORS,
        response_model=RunList,
    )
    def runs(user: ApiUser) -> Response:
        return run_list(user).response()

    @app.get("/api/v1/runs/{run_id}", tags=["api"], summary="一次运行的概况", responses=ERRORS)
    def run(request: Request, run_id: RunId, user: ApiUser) -> RunSummary:
        return summary(readable_run(request, run_id), user, store.latest_id())

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/invitations",
        tags=["api"],
        summary="一省的邀请名单：筛选、检索、排序、分页",
        responses=ERRORS,
        response_model=InvitationPage,
    )
    def invitations(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[ListParams, Query()],
        user: ApiUser,
    ) -> Response:
        run = readable_province(request, user, run_id, province)
        return list_page(run, province, params).response()

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/download/{file_format}",
        tags=["api"],
        summary="下载一省的邀请名单（csv 或 xlsx）",
        response_class=Response,
        responses={
            **ERRORS,
            200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "名单文件"},
        },
    )
    def download(
        request: Request, run_id: RunId, province: Province, file_format: FileFormat, user: ApiUser
    ) -> Response:
        run = readable_province(request, user, run_id, province)
        found = published_download(run.list_files, province, file_format, "邀请名单", run.run_id)
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        return found

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/cultivation",
        tags=["api"],
        summary="一省的培育名单（因少数可培育指标不符合、不邀请）",
        responses=ERRORS,
    )
    def cultivation(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[TableParams, Query()],
        user: ApiUser,
    ) -> TablePage:
        run = readable_province(request, user, run_id, province)
        return published_table(run, "cultivation", province, params)

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/renewals",
        tags=["api"],
        summary="一省的复核名单（称号即将到期，第十六条）",
        responses=ERRORS,
    )
    def renewals(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[TableParams, Query()],
        user: ApiUser,
    ) -> TablePage:
        run = readable_province(request, user, run_id, province)
        return published_table(run, "renewals", province, params)

    @app.get(
        "/api/v1/runs/{run_id}/firms/{credit_code}",
        tags=["api"],
        summary="一家企业：各层级全部指标的结论与依据、排序依据与数据缺口",
        responses=ERRORS,
        response_model=FirmDetail,
    )
    def firm(request: Request, run_id: RunId, credit_code: CreditCode, user: ApiUser) -> Response:
        run = readable_run(request, run_id)
        page = responses.get(("firm", run.path, credit_code), lambda: firm_page(run, credit_code))
        return readable(request, user, page).response()

    # ---------------------------------------------------------------- HTML
    @app.get(
        "/login",
        tags=["pages"],
        summary="登录页",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def login_form(request: Request) -> HTMLResponse:
        return render(request, "login.html", {"error": None})

    @app.post(
        "/login",
        tags=["pages"],
        summary="以令牌登录",
        response_class=RedirectResponse,
        status_code=303,
        responses=LOGIN_ANSWERS,
    )
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=200, description="访问令牌")],
    ) -> Response:
        client = client_address(request)
        note(request, presented=presented_id(token))
        if parts.throttle.blocked(client):
            note(request, event="login_throttled")
            return render(request, "login.html", {"error": TOO_MANY}, status_code=429)
        principal = parts.tokens.authenticate(token)
        if principal is None:
            parts.throttle.failed(client)
            note(request, event="login_failed")
            return render(request, "login.html", {"error": "令牌无效或已停用"}, status_code=401)
        session_id, _ = parts.sessions.start(principal.token_id)
        note(request, event="login", who=principal.audit())
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            session_id,
            max_age=cookie_max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
        )
        return response

    @app.post(
        "/logout",
        tags=["pages"],
        summary="退出登录（在服务端结束会话）",
        response_class=RedirectResponse,
        status_code=303,
        responses={303: {"description": "结束会话并转到登录页"}, 403: {"description": "跨站请求"}},
    )
    def logout(
        request: Request, cookie: Annotated[str | None, Depends(cookie_scheme)]
    ) -> RedirectResponse:
        principal = session_principal(request, cookie)
        note(request, event="logout", who=principal.audit() if principal else None)
        parts.sessions.end(cookie)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(
            COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=secure_cookie
        )
        return response

    @app.get(
        "/",
        tags=["pages"],
        summary="首页：已发布的运行",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def index(request: Request, user: PageUser) -> HTMLResponse:
        return render(request, "index.html", {"user": user, "listing": run_list(user).model})

    @app.get(
        "/runs/{run_id}",
        tags=["pages"],
        summary="一次运行：各省名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def run_page(request: Request, run_id: RunId, user: PageUser) -> HTMLResponse:
        run = summary(readable_run(request, run_id), user, store.latest_id())
        return render(request, "run.html", {"user": user, "run": run})

    @app.get(
        "/runs/{run_id}/provinces/{province}",
        tags=["pages"],
        summary="一省的邀请名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def list_view(
        request: Request,
        run_id: RunId,
        province: Province,
        params: Annotated[ListParams, Query()],
        user: PageUser,
    ) -> HTMLResponse:
        run = readable_province(request, user, run_id, province)
        sections = tier_sections(request, params, lambda own: list_page(run, province, own).model)
        context = {
            "user": user,
            "run_id": run.run_id,
            "province": province,
            "sections": sections,
            "params": params,
        }
        return render(request, "list.html", context)

    @app.get(
        "/runs/{run_id}/provinces/{province}/{which}",
        tags=["pages"],
        summary="一省的培育名单或复核名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def table_view(
        request: Request,
        run_id: RunId,
        province: Province,
        which: Annotated[TableName, PathParam(description="cultivation 或 renewals")],
        params: Annotated[TableParams, Query()],
        user: PageUser,
    ) -> HTMLResponse:
        run = readable_province(request, user, run_id, province)
        page = published_table(run, which, province, params)
        context = {
            "user": user,
            "page": page,
            "which": which,
            "params": params,
            "pages": page_count(page.total, page.page_size),
            "page_url": _page_url(request),
            "labels": CULTIVATION_LABELS if which == "cultivation" else RENEWAL_LABELS,
        }
        return render(request, "table.html", context)

    @app.get(
        "/runs/{run_id}/firms/{credit_code}",
        tags=["pages"],
        summary="一家企业的指标依据",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def firm_view(
        request: Request, run_id: RunId, credit_code: CreditCode, user: PageUser
    ) -> HTMLResponse:
        detail = readable_firm(request, user, run_id, credit_code).model
        return render(request, "firm.html", {"user": user, "firm": detail})

    # ---------------------------------------------------------------- match review (issue 14)
    from features.match_decisions import DecisionStore
    from service.review import review_router

    app.include_router(
        review_router(
            store, DecisionStore(decisions_file), AuditLog(audit_log), page_principal, templates
        )
    )

    # ---------------------------------------------------------------- errors
    def is_api(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/openapi.json", "/healthz"))

    @app.exception_handler(TokenFileError)
    async def tokens_unusable(request: Request, exc: TokenFileError) -> Response:
        log.error("answering 503 to %s: %s", request.url.path, exc)
        if is_api(request):
            return JSONResponse({"detail": UNAVAILABLE}, status_code=503)
        return render(request, "error.html", {"status": 503, "messages": [UNAVAILABLE]}, 503)

    @app.exception_handler(ProvinceFailed)
    async def province_failed(request: Request, exc: ProvinceFailed) -> Response:
        failure, previous = exc.failure, still_published(exc.failure)
        note(request, event="province_failed")
        notice = failure_notice(exc.run_id, failure, previous)
        if is_api(request):
            body = {
                "detail": notice,
                "failed_province": {
                    **failure,
                    "previous_run": previous,
                    "task_label": label(TASK_LABELS, failure.get("task")),
                },
                "previous_list": previous
                and f"/api/v1/runs/{previous}/provinces/{failure['province']}/invitations",
            }
            return JSONResponse(body, status_code=404)
        context = {"run_id": exc.run_id, "failure": failure, "previous": previous}
        return render(request, "failed.html", context, status_code=404)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return await http_exception_handler(request, exc)
        message = NOT_FOUND if exc.status_code == 404 else str(exc.detail)
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "messages": [message]},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return await request_validation_exception_handler(request, exc)
        messages = [
            f"{'.'.join(str(p) for p in error.get('loc', ())[1:]) or '请求'}：{error.get('msg')}"
            for error in exc.errors()
        ]
        return render(request, "error.html", {"status": 422, "messages": messages}, 422)

    def openapi() -> dict[str, Any]:
        """The schema, with the cross-site guard's 403 on every state-changing operation
        (whichever router defines it)."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            refused = {
                "description": CROSS_SITE,
                "content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
            }
            for operations in schema.get("paths", {}).values():
                for method, operation in operations.items():
                    if method.upper() not in SAFE_METHODS:
                        operation.setdefault("responses", {}).setdefault("403", refused)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def failure_notice(run_id: str, failure: FailedProvinceEntry, previous: str | None) -> str:
    """What an official of a province whose task failed reads instead of the run's lists."""
    province, task = failure.get("province"), failure.get("task")
    text = (
        f"运行 {run_id} 中，省份 {province} 的处理任务“{label(TASK_LABELS, task)}”［{task}］失败，"
        f"本次未发布该省的名单；其他省份的名单已正常发布。错误信息：{failure.get('error')}。"
    )
    if previous:
        return (
            text
            + f"请使用上一次发布的名单：运行 {previous}（/runs/{previous}/provinces/{province}）。"
        )
    return text + "此前没有发布过该省的名单。"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _page_url(request: Request) -> Callable[[int], str]:
    def url(page: int) -> str:
        target = request.url.include_query_params(page=page)
        return f"{target.path}?{target.query}"

    return url
