"""Tokens: hashed at rest, issued once, revocable without a restart; `zjtx api token …`."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.synchronize
import os
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from core.config import ConfigError
from service.tokens import TokenStore, issue_token, read_tokens, revoke_token
from zjtx.cli_api import api_app

runner = CliRunner()


def test_file_keeps_salted_hashes_only(tmp_path: Path) -> None:
    # given
    path = tmp_path / "tokens.yaml"
    # when
    record, token = issue_token(path, "province", "44", "广东省工业和信息化厅", dt.date(2026, 7, 1))
    other, _ = issue_token(path, "province", "44", "同名同省的第二个令牌")
    # then
    token_id, secret = token.split(".")
    text = path.read_text(encoding="utf-8")
    assert token_id == record.id and secret not in text and len(secret) >= 43  # 256 bits
    stored = yaml.safe_load(text)["tokens"][0]
    assert set(stored) == {"id", "name", "role", "province", "created", "revoked", "salt", "sha256"}
    assert stored["created"] == "2026-07-01" and stored["revoked"] is False
    assert record.salt != other.salt and record.sha256 != other.sha256  # per-token salt
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_authenticates_and_sees_revocation_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    record, token = issue_token(path, "province", "11", "北京市经济和信息化局")
    store = TokenStore(path)
    principal = store.authenticate(token)
    assert principal is not None and (principal.role, principal.province) == ("province", "11")
    assert principal.can_read("11") and not principal.can_read("44")
    assert not principal.can_read(None)
    assert store.authenticate(token + "x") is None
    assert store.authenticate(record.id) is None
    assert store.authenticate(f"{record.id}.{'A' * 43}") is None
    revoke_token(path, record.id)
    assert store.authenticate(token) is None


def test_store_without_a_file_accepts_nothing(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "absent.yaml")
    assert store.authenticate("abc.def") is None and store.authenticate(None) is None


@pytest.mark.parametrize(
    ("role", "province", "reason"),
    [
        ("province", None, "needs its 2-digit province code"),
        ("province", "4", "should match pattern"),
        ("province", "00", "is not a province"),
        ("ministry", "44", "reads every province"),
    ],
)
def test_bad_token_requests_are_refused(
    tmp_path: Path, role: str, province: str | None, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        issue_token(tmp_path / "t.yaml", role, province, "名称")  # type: ignore[arg-type]
    assert not (tmp_path / "t.yaml").exists()


def test_a_tampered_tokens_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  - id: 1\n    role: admin\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tokens\.yaml"):
        read_tokens(path)


# ------------------------------------------------------------------ CLI


def test_cli_add_prints_the_token_once_and_list_shows_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    added = runner.invoke(
        api_app,
        [
            "token",
            "add",
            "--role",
            "province",
            "--province",
            "44",
            "--name",
            "广东",
            "--tokens",
            str(path),
        ],
    )
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert TokenStore(path).authenticate(token) is not None
    listed = runner.invoke(api_app, ["token", "list", "--tokens", str(path)])
    assert listed.exit_code == 0 and token.split(".")[0] in listed.stdout
    assert token.split(".")[1] not in listed.stdout and "广东" in listed.stdout
    revoked = runner.invoke(
        api_app, ["token", "revoke", token.split(".")[0], "--tokens", str(path)]
    )
    assert revoked.exit_code == 0
    assert TokenStore(path).authenticate(token) is None
    assert "yes" in runner.invoke(api_app, ["token", "list", "--tokens", str(path)]).stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["token", "add", "--role", "province", "--name", "x"], "needs its 2-digit province"),
        (["token", "add", "--role", "province", "--province", "4", "--name", "x"], "pattern"),
        (["token", "add", "--role", "ministry", "--province", "44", "--name", "x"], "every"),
        (["token", "revoke", "000000000000"], "no token with id"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], reason: str) -> None:
    result = runner.invoke(api_app, [*args, "--tokens", str(tmp_path / "tokens.yaml")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error:") and reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_cli_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = runner.invoke(api_app, ["token", "add", "--role", "king", "--name", "x"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_cli_help_on_every_command() -> None:
    for args in (
        [],
        ["serve"],
        ["token"],
        ["token", "add"],
        ["token", "list"],
        ["token", "revoke"],
    ):
        result = runner.invoke(api_app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
    add_help = runner.invoke(api_app, ["token", "add", "--help"]).output
    assert "--province" in add_help and "2-digit" in add_help


def _add_tokens(path: str, count: int, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()
    for index in range(count):
        issue_token(Path(path), "province", "44", f"并发令牌 {os.getpid()}-{index}")


def _revoke(path: str, token_id: str, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()
    revoke_token(Path(path), token_id)


def test_concurrent_adds_and_a_revoke_lose_nothing(tmp_path: Path) -> None:
    # given: 8 processes adding 5 tokens each, and a revocation racing them
    path = tmp_path / "tokens.yaml"
    victim, token = issue_token(path, "province", "44", "将被停用的令牌")
    context = multiprocessing.get_context("fork")
    start = context.Barrier(9)
    workers = [context.Process(target=_add_tokens, args=(str(path), 5, start)) for _ in range(8)]
    workers.append(context.Process(target=_revoke, args=(str(path), victim.id, start)))
    # when
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    # then: all 41 tokens are in the file, the revocation holds, no temporary file is left
    assert [worker.exitcode for worker in workers] == [0] * 9
    tokens = read_tokens(path).tokens
    assert len(tokens) == 41 and len({t.id for t in tokens}) == 41
    assert [t.revoked for t in tokens if t.id == victim.id] == [True]
    assert TokenStore(path).authenticate(token) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tokens.yaml.lock", "tokens.yaml"]


def test_an_expired_token_stops_on_the_day_after(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    _, token = issue_token(
        path, "ministry", None, "临时令牌", dt.date(2026, 7, 1), expires=dt.date(2026, 7, 31)
    )
    assert TokenStore(path, today=lambda: dt.date(2026, 7, 31)).authenticate(token) is not None
    assert TokenStore(path, today=lambda: dt.date(2026, 8, 1)).authenticate(token) is None
    with pytest.raises(ConfigError, match="before the day"):
        issue_token(path, "ministry", None, "x", dt.date(2026, 7, 1), expires=dt.date(2026, 6, 1))


def test_cli_expires_and_names_with_markup_print_as_written(tmp_path: Path) -> None:
    # given: a name that Rich would read as markup (it used to crash after the token was written)
    path = tmp_path / "tokens.yaml"
    name = "[/bold]广东[red]厅[/]"
    # when
    added = runner.invoke(
        api_app,
        ["token", "add", "--role", "ministry", "--name", name, "--expires", "2030-12-31",
         "--tokens", str(path)],
    )  # fmt: skip
    listed = runner.invoke(api_app, ["token", "list", "--tokens", str(path)])
    revoked = runner.invoke(api_app, ["token", "revoke", "[/x]", "--tokens", str(path)])
    bad_date = runner.invoke(
        api_app,
        ["token", "add", "--role", "ministry", "--name", "x", "--expires", "2030-13-01",
         "--tokens", str(path)],
    )  # fmt: skip
    # then
    assert added.exit_code == 0, added.output
    assert name in added.output and "valid through 2030-12-31" in added.output
    assert listed.exit_code == 0 and name in listed.output and "2030-12-31" in listed.output
    assert revoked.exit_code == 2 and "[/x]" in revoked.output
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    assert read_tokens(path).tokens[0].expires == dt.date(2030, 12, 31)


def test_one_tokens_logins_never_push_out_another_tokens_session() -> None:
    # issue 28: sessions are limited per token
    from service.sessions import SessionStore

    sessions = SessionStore(3600, max_sessions=10, max_per_token=2)
    other, _ = sessions.start("other-token")
    mine = [sessions.start("busy-token")[0] for _ in range(30)]
    assert sessions.get(other) is not None
    assert [sessions.get(s) is not None for s in mine[-3:]] == [False, True, True]
    assert len(sessions) == 3


def test_serve_trusts_forwarded_headers_only_from_the_configured_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 28: behind a proxy the login throttle keys on the real client address
    import uvicorn

    from service.config import load_service_config

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    tokens = tmp_path / "tokens.yaml"
    issue_token(tokens, "ministry", None, "测试")
    result = CliRunner().invoke(
        api_app, ["serve", "--tokens", str(tokens), "--runs", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["proxy_headers"] is True
    assert calls[0]["forwarded_allow_ips"] == ["127.0.0.1"]
    assert load_service_config().server.forwarded_allow_ips == ("127.0.0.1",)
