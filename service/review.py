"""The match review page (issue 14): pending mentions of the latest run, candidates side by
side, confirm or "none of these". Decisions go to the decisions store (features.match_decisions)
and the audit log; the next run applies them before any automatic matching stage.

Who sees what (Articles 7-8 属地原则): a province official sees the mentions whose candidates
all lie in their province; a mention whose candidates span provinces (or have no region) is the
ministry's. Anything else answers 404, as elsewhere in the service.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import pandas as pd
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from features.match_decisions import NO_FIRM, Decision, DecisionStore, audit_entry
from features.match_review import CANDIDATES_FILE, REVIEW_FILE, province_of_mention
from models.labels import (
    MENTION_COLUMN_LABELS,
    MENTION_SOURCE_LABELS,
    context_text,
    label,
    with_code,
)
from service.audit import AUDIT_STATE_KEY, AuditLog
from service.runs import RunStore
from service.tokens import Principal

PAGE_SIZE = 20
MentionKey = Annotated[
    str, PathParam(pattern=r"^[a-z_]{2,32}:[0-9a-f]{24}$", description="mention key")
]


def _pending(runs: RunStore, store: DecisionStore) -> tuple[str | None, pd.DataFrame]:
    """The latest run's review queue less the mentions decided since, with their province."""
    run_id = runs.latest_id()
    folder = runs.resolve(run_id) if run_id else None
    path = folder / REVIEW_FILE if folder else None
    if path is None or not path.is_file():
        return run_id, pd.DataFrame(columns=["mention_key", "province"])
    queue = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "mention_key" not in queue.columns:  # a run from before issue 14
        return run_id, pd.DataFrame(columns=["mention_key", "province"])
    decided = set(store.current()["mention_key"])
    queue = queue[~queue["mention_key"].isin(decided)].copy()
    queue["province"] = province_of_mention(queue["candidate_regions"]).fillna("").to_numpy()
    return run_id, queue.reset_index(drop=True)


def _candidates(runs: RunStore, run_id: str | None) -> pd.DataFrame:
    folder = runs.resolve(run_id) if run_id else None
    path = folder / CANDIDATES_FILE if folder else None
    if path is None or not path.is_file():
        return pd.DataFrame(columns=["mention_key", "credit_code"])
    return pd.read_csv(
        path,
        dtype={"credit_code": str, "region_code": str},
        keep_default_na=False,
        encoding="utf-8-sig",
    )


def _visible(queue: pd.DataFrame, user: Principal) -> pd.DataFrame:
    if user.role == "ministry":
        return queue
    return queue[queue["province"] == (user.province or "-")]


def _same_origin(request: Request) -> bool:
    """A form post from this site only (CSRF): Sec-Fetch-Site, else Origin, must say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.headers.get("host")


def review_router(
    runs: RunStore,
    store: DecisionStore,
    audit: AuditLog,
    page_principal: Callable[..., Principal],
    templates: Jinja2Templates,
) -> APIRouter:
    """Pages `/review` (the queue) and `POST /review/{mention_key}` (a decision)."""
    router = APIRouter(tags=["pages"])
    PageUser = Annotated[Principal, Depends(page_principal)]

    @router.get(
        "/review",
        summary="企业名称匹配复核：待确认的提及与候选企业",
        response_class=HTMLResponse,
    )
    def review_page(request: Request, user: PageUser, page: int = 1) -> HTMLResponse:
        run_id, queue = _pending(runs, store)
        visible = _visible(queue, user)
        pages = max(1, -(-len(visible) // PAGE_SIZE))
        page = min(max(page, 1), pages)
        shown = visible.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        candidates = _candidates(runs, run_id)
        by_key = {key: rows for key, rows in candidates.groupby("mention_key", sort=False)}
        mentions: list[dict[str, Any]] = []
        for row in shown.to_dict(orient="records"):
            rows = by_key.get(row["mention_key"])
            row["candidates"] = [] if rows is None else rows.to_dict(orient="records")
            row["source_label"] = label(MENTION_SOURCE_LABELS, row["source"])
            row["context_text"] = context_text(row.get("context"))
            row["column_label"] = with_code(
                label(MENTION_COLUMN_LABELS, row["column"]), row["column"]
            )
            mentions.append(row)
        audit.append(
            {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "who": user.audit(),
                "method": "GET",
                "path": str(request.url.path),
                "event": "match_review_page",
                "run_id": run_id,
                "mentions": [m["mention_key"] for m in mentions],
                "status": 200,
            }
        )
        context = {
            "user": user,
            "run_id": run_id,
            "mentions": mentions,
            "total": len(visible),
            "page": page,
            "pages": pages,
        }
        return templates.TemplateResponse(request, "review.html", context)

    @router.post(
        "/review/{mention_key}",
        summary="记录一条复核结论：确认某一候选企业，或均不是",
        response_class=RedirectResponse,
        status_code=303,
    )
    def decide(
        request: Request,
        mention_key: MentionKey,
        user: PageUser,
        decision: Annotated[str, Form(max_length=20, description="候选企业信用代码或 none")],
        note: Annotated[str, Form(max_length=500, description="备注（可空）")] = "",
    ) -> RedirectResponse:
        if not _same_origin(request):
            raise HTTPException(403, "跨站请求被拒绝")
        _, queue = _pending(runs, store)
        mine = _visible(queue, user)
        found = mine[mine["mention_key"] == mention_key]
        if found.empty:
            raise HTTPException(404, "未找到")
        row = found.iloc[0]
        province = row["province"] or None
        getattr(request.state, AUDIT_STATE_KEY, {})["province"] = province
        candidates = str(row["candidate_codes"]).split("|")
        choice = decision.strip().upper() if decision.strip().lower() != NO_FIRM else NO_FIRM
        if choice != NO_FIRM and choice not in candidates:
            raise HTTPException(422, "所选企业不在候选之列")
        (recorded,) = store.record(
            [
                Decision(
                    mention_key=mention_key,
                    source=str(row["source"]),
                    column=str(row["column"]),
                    raw_name=str(row["raw_name"]),
                    credit_code=choice,
                    decided_by=user.name,
                    note=note.strip(),
                    channel="service",
                )
            ]
        )
        audit.append(audit_entry(recorded, user.audit(), str(request.url.path)))
        return RedirectResponse("/review", status_code=303)

    return router
