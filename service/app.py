"""The officials' service: published runs, read-only, as JSON (`/api/v1`) and HTML pages.

Access (Articles 7-8 属地原则, Article 28 商业秘密): every data request carries a token — a
bearer header for programs, an HttpOnly SameSite=Strict cookie set by the login form for
browsers. A ministry token reads every province; a province token reads its own only, and
anything of another province answers 404, exactly as if it did not exist.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.criteria.engine import CRITERION_LABELS
from service.api_models import (
    CreditCode,
    ErrorBody,
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
from service.audit import AUDIT_STATE_KEY, AuditLog, AuditMiddleware
from service.runs import (
    MEDIA_TYPES,
    FileFormat,
    InvitationQuery,
    RunData,
    RunStore,
    firm_detail,
    invitation_page,
    table_page,
)
from service.tokens import Principal, TokenStore
from service.watchlist import watchlist_router
from zjtx.publication import TIER_LABELS

COOKIE_NAME = "zjtx_session"
COOKIE_MAX_AGE_S = 8 * 3600
NOT_FOUND = "未找到"  # the same words whether the thing is absent or another province's
UNAUTHORIZED = "需要有效的访问令牌"
TEMPLATES = Path(__file__).resolve().parent / "templates"
OUTCOME_LABELS = {
    "eligible": "达标",
    "to_verify": "待核实",
    "ineligible": "不符合",
    "already_certified": "已获称号",
}
VERDICT_LABELS = {"pass": "达标", "fail": "不达标", "unknown": "数据不足"}
MODE_LABELS = {"discovery": "主动发现", "renewal": "复核"}
SORT_LABELS = {
    "rank": "排名",
    "score": "模型得分",
    "name": "企业名称",
    "credit_code": "信用代码",
    "region_code": "行政区划",
}
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "缺少令牌、令牌无效或已停用"},
    404: {"model": ErrorBody, "description": "不存在，或不属于本令牌可读的省份"},
}

HTML: dict[str, dict[str, Any]] = {"text/html": {}}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "未登录：转到登录页"},
    404: {"content": HTML, "description": "不存在，或不属于本令牌可读的省份"},
    422: {"content": HTML, "description": "请求参数有误"},
}
LOGIN_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: {"description": "登录成功：设置会话 Cookie 并转到首页"},
    401: {"content": HTML, "description": "令牌无效或已停用"},
    422: {"content": HTML, "description": "请求参数有误"},
}

bearer_scheme = HTTPBearer(auto_error=False, description="访问令牌：Authorization: Bearer <令牌>")
cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="网页登录后的会话")


class LoginRequired(Exception):
    """An HTML page asked for without a valid session: send the browser to the login form."""


class SecurityHeaders:
    """No caching of firm data anywhere (Article 28); no framing, sniffing or referrers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    runs_dir: Path,
    tokens_file: Path,
    audit_log: Path,
    *,
    secure_cookie: bool = False,
    decisions_file: Path | None = None,
) -> FastAPI:
    """The application over `runs_dir`, with tokens from `tokens_file`, auditing to `audit_log`.

    `secure_cookie`: mark the session cookie Secure (behind HTTPS in production).
    `decisions_file`: the match decisions store (default $ZJTX_HOME/matching/decisions.sqlite).
    """
    store = RunStore(runs_dir)
    tokens = TokenStore(tokens_file)
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(
        tier_labels=TIER_LABELS,
        outcome_labels=OUTCOME_LABELS,
        verdict_labels=VERDICT_LABELS,
        mode_labels=MODE_LABELS,
        criterion_labels=CRITERION_LABELS,
        sort_labels=SORT_LABELS,
    )
    app = FastAPI(
        title="优质中小企业主动发现 · 名单服务",
        description="已发布运行结果的只读服务：邀请名单、企业指标依据、培育与复核名单。"
        "省级令牌只能读取本省数据（第七、八条属地原则；第二十八条保护商业秘密）。",
        version="1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(AuditMiddleware, log=AuditLog(audit_log))
    app.add_middleware(SecurityHeaders)

    # ---------------------------------------------------------------- access
    def authenticate(request: Request, token: str | None) -> Principal | None:
        principal = tokens.authenticate(token)
        setattr(request.state, AUDIT_STATE_KEY, {"who": principal.audit() if principal else None})
        return principal

    def api_principal(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        cookie: Annotated[str | None, Depends(cookie_scheme)],
    ) -> Principal:
        principal = authenticate(request, bearer.credentials if bearer else cookie)
        if principal is None:
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        return principal

    def page_principal(
        request: Request, cookie: Annotated[str | None, Depends(cookie_scheme)]
    ) -> Principal:
        principal = authenticate(request, cookie)
        if principal is None:
            raise LoginRequired
        return principal

    ApiUser = Annotated[Principal, Depends(api_principal)]
    PageUser = Annotated[Principal, Depends(page_principal)]
    app.include_router(watchlist_router(store, api_principal, page_principal, templates))

    def readable_run(run_id: str) -> RunData:
        run = store.load(run_id)
        if run is None:
            raise HTTPException(404, NOT_FOUND)
        return run

    def readable_province(user: Principal, run_id: str, province: str) -> RunData:
        """The run, if this user may read this province; 404 otherwise (existence not revealed)."""
        if not user.can_read(province):
            raise HTTPException(404, NOT_FOUND)
        return readable_run(run_id)

    def readable_firm(request: Request, user: Principal, run_id: str, code: str) -> dict[str, Any]:
        run = readable_run(run_id)
        province = run.province_of_firm(code)
        getattr(request.state, AUDIT_STATE_KEY)["province"] = province
        detail = firm_detail(run, code) if user.can_read(province) else None
        if detail is None:
            raise HTTPException(404, NOT_FOUND)
        for tier in detail["tiers"]:
            for row in tier["criteria"]:
                row["label"] = CRITERION_LABELS.get(row["criterion"], row["criterion"])
        return detail

    def summary(run: RunData, user: Principal, latest: str | None) -> RunSummary:
        manifest = run.manifest
        return RunSummary(
            run_id=run.run_id,
            as_of=_text(manifest.get("as_of")),
            model_version=_text(manifest.get("model_version")),
            config_hash=_text(manifest.get("config_hash")),
            latest=run.run_id == latest,
            provinces=[p for p in run.provinces if user.can_read(p)],
            funnel=[row for row in run.funnel() if user.can_read(str(row.get("province")))],
            counts=manifest.get("counts") if user.role == "ministry" else None,
        )

    def run_list(user: Principal) -> RunList:
        latest = store.latest_id()
        runs = [store.load(run_id) for run_id in store.run_ids()]
        return RunList(
            latest=latest, runs=[summary(run, user, latest) for run in runs if run is not None]
        )

    def list_page(run: RunData, province: str, params: ListParams) -> InvitationPage:
        if province not in run.list_files:
            raise HTTPException(404, NOT_FOUND)
        query = InvitationQuery(**params.model_dump())
        total, rows = invitation_page(run, province, query)
        return InvitationPage.model_validate(
            {
                "run_id": run.run_id,
                "province": province,
                "total": total,
                "page": params.page,
                "page_size": params.page_size,
                "items": rows,
            }
        )

    def published_table(run: RunData, which: str, province: str, params: TableParams) -> TablePage:
        frame = run.cultivation if which == "cultivation" else run.renewals
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
            items=rows,
        )

    # ---------------------------------------------------------------- JSON
    @app.get("/healthz", tags=["service"], summary="服务是否在运行（无需令牌）")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/me", tags=["api"], summary="当前令牌的身份与权限", responses=ERRORS)
    def me(user: ApiUser) -> Me:
        return Me(token_id=user.token_id, name=user.name, role=user.role, province=user.province)

    @app.get("/api/v1/runs", tags=["api"], summary="已发布的运行", responses=ERRORS)
    def runs(user: ApiUser) -> RunList:
        return run_list(user)

    @app.get("/api/v1/runs/{run_id}", tags=["api"], summary="一次运行的概况", responses=ERRORS)
    def run(run_id: RunId, user: ApiUser) -> RunSummary:
        return summary(readable_run(run_id), user, store.latest_id())

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/invitations",
        tags=["api"],
        summary="一省的邀请名单：筛选、检索、排序、分页",
        responses=ERRORS,
    )
    def invitations(
        run_id: RunId, province: Province, params: Annotated[ListParams, Query()], user: ApiUser
    ) -> InvitationPage:
        return list_page(readable_province(user, run_id, province), province, params)

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
        run_id: RunId, province: Province, file_format: FileFormat, user: ApiUser
    ) -> Response:
        run = readable_province(user, run_id, province)
        path = run.list_files.get(province, {}).get(file_format)
        if path is None:
            raise HTTPException(404, NOT_FOUND)
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[file_format],
            filename=f"邀请名单-{province}-{run.run_id}.{file_format}",
        )

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/cultivation",
        tags=["api"],
        summary="一省的培育名单（因少数可培育指标不符合、不邀请）",
        responses=ERRORS,
    )
    def cultivation(
        run_id: RunId, province: Province, params: Annotated[TableParams, Query()], user: ApiUser
    ) -> TablePage:
        run = readable_province(user, run_id, province)
        return published_table(run, "cultivation", province, params)

    @app.get(
        "/api/v1/runs/{run_id}/provinces/{province}/renewals",
        tags=["api"],
        summary="一省的复核名单（称号即将到期，第十六条）",
        responses=ERRORS,
    )
    def renewals(
        run_id: RunId, province: Province, params: Annotated[TableParams, Query()], user: ApiUser
    ) -> TablePage:
        run = readable_province(user, run_id, province)
        return published_table(run, "renewals", province, params)

    @app.get(
        "/api/v1/runs/{run_id}/firms/{credit_code}",
        tags=["api"],
        summary="一家企业：各层级全部指标的结论与依据、排序依据与数据缺口",
        responses=ERRORS,
    )
    def firm(request: Request, run_id: RunId, credit_code: CreditCode, user: ApiUser) -> FirmDetail:
        return FirmDetail.model_validate(readable_firm(request, user, run_id, credit_code))

    # ---------------------------------------------------------------- HTML
    def render(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

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
        if tokens.authenticate(token) is None:
            return render(request, "login.html", {"error": "令牌无效或已停用"}, status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            token.strip(),
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
        )
        return response

    @app.post(
        "/logout",
        tags=["pages"],
        summary="退出登录",
        response_class=RedirectResponse,
        status_code=303,
        responses={303: {"description": "清除会话并转到登录页"}},
    )
    def logout() -> RedirectResponse:
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
        return render(request, "index.html", {"user": user, "listing": run_list(user)})

    @app.get(
        "/runs/{run_id}",
        tags=["pages"],
        summary="一次运行：各省名单",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    def run_page(request: Request, run_id: RunId, user: PageUser) -> HTMLResponse:
        run = summary(readable_run(run_id), user, store.latest_id())
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
        page = list_page(readable_province(user, run_id, province), province, params)
        context = {
            "user": user,
            "page": page,
            "params": params,
            "pages": _page_count(page.total, page.page_size),
            "page_url": _page_url(request),
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
        page = published_table(readable_province(user, run_id, province), which, province, params)
        context = {
            "user": user,
            "page": page,
            "which": which,
            "params": params,
            "pages": _page_count(page.total, page.page_size),
            "page_url": _page_url(request),
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
        detail = FirmDetail.model_validate(readable_firm(request, user, run_id, credit_code))
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

    return app


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def _page_url(request: Request) -> Callable[[int], str]:
    def url(page: int) -> str:
        target = request.url.include_query_params(page=page)
        return f"{target.path}?{target.query}"

    return url
