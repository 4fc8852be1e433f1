"""`zjtx api`: serve the published runs to officials, and administer their access tokens.

Registered by zjtx/cli.py as `app.add_typer(api_app, name="api")`. Bad input ends with a
one-line reason and exit 2, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from core.config import ConfigError
from core.console import console, fail, stdout

api_app = typer.Typer(
    help="Officials' service: the published runs as a read-only web service (JSON and pages).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(
    help="Issue, list and revoke access tokens (stored as salted SHA-256 hashes only).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
api_app.add_typer(token_app, name="token")


class TokenRole(enum.StrEnum):
    ministry = "ministry"
    province = "province"


def _default_tokens() -> Path:
    from service.paths import default_tokens_file

    return default_tokens_file()


TokensOption = Annotated[
    Path | None,
    typer.Option(
        "--tokens",
        help="Tokens file (YAML). Default: $ZJTX_HOME/service/tokens.yaml.",
        dir_okay=False,
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[
    int, typer.Option("--port", min=1, max=65535, help="TCP port to listen on (1-65535).")
]
RunsOption = Annotated[
    Path | None,
    typer.Option(
        "--runs", help="Runs directory to serve. Default: $ZJTX_HOME/runs.", file_okay=False
    ),
]
AuditOption = Annotated[
    Path | None,
    typer.Option(
        "--audit-log",
        help="Audit log (JSON lines) of every firm-data request. "
        "Default: $ZJTX_HOME/service/audit.jsonl.",
        dir_okay=False,
    ),
]
SecureCookieOption = Annotated[
    bool,
    typer.Option(
        "--secure-cookie/--no-secure-cookie",
        help="Served over HTTPS (default): the session cookie is Secure and answers carry HSTS. "
        "--no-secure-cookie only on 127.0.0.1/localhost, or with --insecure-http.",
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure-http",
        help="Allow --no-secure-cookie on a non-loopback --host: sessions then travel in clear "
        "text on the network. Never do this outside a closed test network.",
    ),
]


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(
    host: str,
    port: int,
    runs: Path | None,
    tokens: Path | None,
    audit_log: Path | None,
    secure_cookie: bool,
    insecure_http: bool = False,
) -> None:
    if not secure_cookie and not is_loopback(host) and not insecure_http:
        raise fail(
            f"refusing to serve on {host} without --secure-cookie: session cookies would cross "
            "the network in clear text; serve it behind HTTPS, or add --insecure-http"
        )
    import uvicorn

    from service.app import create_app
    from service.config import load_service_config
    from service.paths import default_audit_log, default_runs_dir
    from service.tokens import read_tokens

    tokens_file = tokens or _default_tokens()
    try:
        issued = read_tokens(tokens_file).tokens
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not any(not record.revoked for record in issued):
        console.print(
            f"warning: no active token in {tokens_file}; issue one with `zjtx api token add`",
            highlight=False,
            soft_wrap=True,
        )
    try:
        config = load_service_config()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    app = create_app(
        runs or default_runs_dir(),
        tokens_file,
        audit_log or default_audit_log(),
        secure_cookie=secure_cookie,
        config=config,
    )
    scheme = "https (behind your TLS proxy)" if secure_cookie else "http"
    console.print(
        f"serving on {host}:{port}, for {scheme} (Ctrl+C to stop)", highlight=False, markup=False
    )
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            proxy_headers=True,
            forwarded_allow_ips=list(config.server.forwarded_allow_ips),
        )
    except (OSError, SystemExit) as exc:
        raise fail(f"cannot serve on {host}:{port}: {exc}") from None


@api_app.callback(invoke_without_command=True)
def api(
    context: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    runs: RunsOption = None,
    tokens: TokensOption = None,
    audit_log: AuditOption = None,
    secure_cookie: SecureCookieOption = True,
    insecure_http: InsecureOption = False,
) -> None:
    """Serve the published runs (same as `zjtx api serve`) unless a subcommand is given."""
    if context.invoked_subcommand is None:
        _serve(host, port, runs, tokens, audit_log, secure_cookie, insecure_http)


@api_app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    runs: RunsOption = None,
    tokens: TokensOption = None,
    audit_log: AuditOption = None,
    secure_cookie: SecureCookieOption = True,
    insecure_http: InsecureOption = False,
) -> None:
    """Serve the published runs with uvicorn: JSON under /api/v1, pages for people at /."""
    _serve(host, port, runs, tokens, audit_log, secure_cookie, insecure_http)


@token_app.command("add")
def token_add(
    role: Annotated[
        TokenRole,
        typer.Option("--role", help="ministry (reads every province) or province (its own only)."),
    ],
    name: Annotated[
        str, typer.Option("--name", help="Who holds the token, e.g. 广东省工业和信息化厅.")
    ],
    province: Annotated[
        str | None,
        typer.Option("--province", help="2-digit province code; required for --role province."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Last day the token is valid (YYYY-MM-DD); default: none."),
    ] = None,
    tokens: TokensOption = None,
) -> None:
    """Issue a token and print it ONCE: only its salted hash is kept, it cannot be shown again."""
    from service.tokens import issue_token

    path = tokens or _default_tokens()
    try:
        last_day = dt.date.fromisoformat(expires) if expires is not None else None
    except ValueError:
        raise fail(f"--expires {expires!r} is not a date (YYYY-MM-DD)") from None
    try:
        record, token = issue_token(path, role.value, province, name, expires=last_day)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    until = f", valid through {record.expires}" if record.expires else ""
    console.print(
        f"issued token {record.id} ({record.role}"
        f"{' ' + record.province if record.province else ''}, {record.name}{until}) in {path}; "
        "it is printed once below — hand it over securely, it cannot be shown again",
        highlight=False,
        markup=False,  # a name is data: "[/x]" in it must print as written, not as markup
        soft_wrap=True,
    )
    print(token)


@token_app.command("list")
def token_list(tokens: TokensOption = None) -> None:
    """List the issued tokens: id, name, role, province, created, revoked (never a secret)."""
    from service.tokens import read_tokens

    path = tokens or _default_tokens()
    try:
        issued = read_tokens(path).tokens
    except ConfigError as exc:
        raise fail(str(exc)) from None
    table = Table("id", "name", "role", "province", "created", "expires", "revoked")
    for record in issued:
        table.add_row(
            record.id,
            Text(record.name),  # plain text: a name is never read as Rich markup
            record.role,
            record.province or "",
            record.created.isoformat(),
            record.expires.isoformat() if record.expires else "",
            "yes" if record.revoked else "no",
        )
    stdout.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="Id of the token (see `zjtx api token list`).")],
    tokens: TokensOption = None,
) -> None:
    """Revoke a token: refused from the next request on, kept in the file for the audit trail."""
    from service.tokens import revoke_token

    path = tokens or _default_tokens()
    try:
        record = revoke_token(path, token_id)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    console.print(f"revoked token {record.id} ({record.name})", highlight=False, markup=False)
