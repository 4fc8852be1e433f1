"""What every route of the service shares — access, runs, pages — as FastAPI dependencies.

A router in any module (`APIRouter()`, included by `service.app.create_app`) gets the same
protections as the core routes by using these:
- `ApiUser` (bearer token or browser session) and `PageUser` (browser session; otherwise the
  browser is sent to /login): the token is re-checked against the tokens file on every request,
  so a revoked or expired token stops at once, and refusals are audited with the id presented;
- `readable_run` / `readable_province`: a run by id (or `latest`), and a province of it that
  this user may read — anything else answers 404 exactly as if it did not exist (属地原则,
  Articles 7-8); both note the resolved run id and the province for the audit log;
- `render`: a page from service/templates with the shared labels.
CSRF checks, the audit log, throttling and security headers are middleware: they apply to
every route without a dependency (service/security.py, service/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates

from core.run_layout import FailedProvinceEntry
from service.audit import state_of
from service.run_listing import RunData
from service.run_store import RunStore
from service.security import LoginThrottle
from service.sessions import SessionStore
from service.tokens import Principal, TokenStore, presented_id

COOKIE_NAME = "zjtx_session"
NOT_FOUND = "未找到"  # the same words whether the thing is absent or another province's
UNAUTHORIZED = "需要有效的访问令牌"
STATE_KEY = "zjtx"  # app.state.zjtx: the ServiceState


class LoginRequired(Exception):
    """An HTML page asked for without a valid session: send the browser to the login form."""


class ProvinceFailed(Exception):
    """A province of a run in which that province's task failed (manifest `failed_provinces`):
    the run published nothing of it, so the answer is a notice naming the failure and the run
    holding the previous list, not a bare 404."""

    def __init__(self, run_id: str, failure: FailedProvinceEntry) -> None:
        super().__init__(run_id, failure)
        self.run_id = run_id
        self.failure = failure


@dataclass(frozen=True)
class ServiceState:
    """The service's parts, one per application (app.state.zjtx)."""

    store: RunStore
    tokens: TokenStore
    sessions: SessionStore
    throttle: LoginThrottle
    templates: Jinja2Templates
    secure: bool  # served over HTTPS: Secure cookie, HSTS


bearer_scheme = HTTPBearer(auto_error=False, description="访问令牌：Authorization: Bearer <令牌>")
cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="网页登录后的会话")


def service(request: Request) -> ServiceState:
    state: ServiceState = getattr(request.app.state, STATE_KEY)
    return state


def note(request: Request, **fields: Any) -> None:
    """Add facts to this request's audit line (who, presented, run_id, province, event)."""
    state_of(request.scope).update(fields)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_principal(request: Request, session_id: str | None) -> Principal | None:
    """The holder of a live session whose token is still valid (checked on every request)."""
    parts = service(request)
    session = parts.sessions.get(session_id)
    if session is None:
        return None
    principal = parts.tokens.principal(session.token_id)
    if principal is None:
        parts.sessions.end(session_id)  # revoked or expired since login: the session ends
        note(request, presented=session.token_id)
    return principal


def _known(request: Request, principal: Principal | None) -> Principal | None:
    if principal is not None:
        note(request, who=principal.audit())
    return principal


async def api_principal(  # on the event loop: a stat and a hash, no thread needed
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    if bearer is not None:
        note(request, presented=presented_id(bearer.credentials))
        principal = service(request).tokens.authenticate(bearer.credentials)
    else:
        principal = session_principal(request, cookie)
    if _known(request, principal) is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    assert principal is not None
    return principal


async def page_principal(  # on the event loop, as api_principal: no wait for a thread (issue 28)
    request: Request, cookie: Annotated[str | None, Depends(cookie_scheme)]
) -> Principal:
    principal = _known(request, session_principal(request, cookie))
    if principal is None:
        raise LoginRequired
    return principal


ApiUser = Annotated[Principal, Depends(api_principal)]
PageUser = Annotated[Principal, Depends(page_principal)]


def readable_run(request: Request, run_id: str) -> RunData:
    """The published run (`latest` resolved), or 404; the audit names the run served."""
    run = service(request).store.load(run_id)
    if run is None:
        raise HTTPException(404, NOT_FOUND)
    note(request, run_id=run.run_id)
    return run


def readable_province(request: Request, user: Principal, run_id: str, province: str) -> RunData:
    """The run, if this user may read this province; 404 otherwise (existence not revealed).
    ProvinceFailed when the province's task failed in that run (only after the wall: a
    province token learns nothing of another province)."""
    note(request, province=province)
    if not user.can_read(province):
        raise HTTPException(404, NOT_FOUND)
    run = readable_run(request, run_id)
    failure = run.failed.get(province)
    if failure is not None and province not in run.list_files:
        raise ProvinceFailed(run.run_id, failure)
    return run


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return service(request).templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
