"""One walk through the pages in real headless Chromium (Debian's package, via Playwright).

Chromium comes from `service/install-browser.sh` (apt), never from `playwright install`. Where
it is absent the test is skipped with the reason; on CI it is installed and the test runs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from openpyxl import load_workbook

from models.labels import VOCABULARIES
from tests.service.conftest import RUN_NEW, A, B, C, D, E, G, Service

CHROMIUM = os.environ.get("ZJTX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() or shutil.which("openssl") is None,
    reason=f"no Chromium at {CHROMIUM} (run service/install-browser.sh) or no openssl",
)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 (the service is HTTPS-only by default:
    its session cookie is Secure)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def live_server(app: FastAPI, certificate: tuple[Path, Path]) -> Iterator[str]:
    with serve(app, certificate) as url:
        yield url


@contextmanager
def serve(app: FastAPI, certificate: tuple[Path, Path]) -> Iterator[str]:
    """uvicorn over HTTPS on 127.0.0.1 and a free port chosen by the kernel, in a thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    key, cert = certificate
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            ssl_keyfile=str(key),
            ssl_certfile=str(cert),
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


def test_login_list_firm_and_excel_download_in_chromium(
    live_server: str, service_files: Service, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],  # CI containers run as root
        )
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", ignore_https_errors=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)

            # given: not logged in, the browser is sent to the login form
            page.goto(f"{live_server}/")
            assert page.url == f"{live_server}/login"

            # when: the Guangdong official logs in with a token
            page.fill("input[name=token]", service_files.tokens.guangdong)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{live_server}/")
            assert page.locator("h1").inner_text() == "已发布的运行"
            (cookie,) = context.cookies()
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
            assert service_files.tokens.guangdong not in cookie["value"]  # a session id

            # then: the province's list, one section per tier, and nothing of Beijing
            page.click(f"a[href='/runs/{RUN_NEW}/provinces/44']")
            page.wait_for_url(f"**/runs/{RUN_NEW}/provinces/44")
            specialized = page.locator("#invitations-specialized tbody tr")
            assert specialized.count() == 2
            assert page.locator("#invitations-little_giant tbody tr").count() == 1
            assert "深圳市华芯微电子有限公司" in page.inner_text("#invitations-specialized")
            assert D not in page.content()

            # a search from the specialized tier's filter form: that tier's own page
            page.fill("#tier-specialized input[name=q]", "蓝海")
            page.click("#tier-specialized form.filters button[type=submit]")
            page.wait_for_url("**q=%E8%93%9D%E6%B5%B7**")
            assert specialized.count() == 1
            assert page.locator("#tier-little_giant").count() == 0

            # the firm page with its evidence and data gaps
            page.click("#invitations-specialized a:has-text('深圳市蓝海精密机械有限公司')")
            page.wait_for_url(f"**/runs/{RUN_NEW}/firms/{B}")
            assert page.inner_text("#credit-code") == B
            assert "数据缺口" in page.inner_text("main") and "市场地位" in page.inner_text("main")

            # the Excel download from the list page
            page.click("text=返回本省名单")
            page.wait_for_url(f"**/runs/{RUN_NEW}/provinces/44")
            with page.expect_download() as download_info:
                page.click("#download-xlsx")
            download = download_info.value
            assert download.suggested_filename.endswith(".xlsx")
            target = tmp_path / download.suggested_filename
            download.save_as(target)
            content = target.read_bytes()
            assert zipfile.is_zipfile(io.BytesIO(content))
            book = load_workbook(io.BytesIO(content))
            assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
            assert book["专精特新中小企业"]["B2"].value == A

            # another province's page is not found, even typed by hand
            response = page.goto(f"{live_server}/runs/latest/provinces/11")
            assert response is not None and response.status == 404
            assert "未找到" in page.inner_text("h1")
        finally:
            browser.close()


def test_a_province_sees_its_watch_list_and_not_another_in_chromium(
    live_server: str, service_files: Service
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_context(locale="zh-CN", ignore_https_errors=True).new_page()
            page.set_default_timeout(20_000)
            # given: the Beijing official logged in
            page.goto(f"{live_server}/login")
            page.fill("input[name=token]", service_files.tokens.beijing)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{live_server}/")
            # when: the watch list is opened from the province's invitation list
            page.goto(f"{live_server}/runs/{RUN_NEW}/provinces/11")
            page.click("#watchlist-link")
            page.wait_for_url(f"**/runs/{RUN_NEW}/provinces/11/watchlist")
            # then: Beijing's titled firm at risk, with its article, evidence and action
            table = page.inner_text("#watchlist")
            assert G in table and "第二十条" in table and "核实后取消认定" in table
            # and Guangdong's watch list is not found, even typed by hand
            for run in (RUN_NEW, "latest"):
                response = page.goto(f"{live_server}/runs/{run}/provinces/44/watchlist")
                assert response is not None and response.status == 404
                assert "未找到" in page.inner_text("h1")
                assert E not in page.content()
        finally:
            browser.close()


CODES = {code for labels in VOCABULARIES.values() for code in labels}


def shown_codes(text: str) -> set[str]:
    """Codes of the label table in what a reader sees (bracketed ids allowed)."""
    visible = re.sub(r"［[^］]*］", " ", text)
    return {t for t in re.findall(r"[A-Za-z0-9_]+", visible) if t.lower() in CODES}


def test_each_tiers_list_and_the_watch_list_read_in_chinese_in_chromium(
    live_server: str, service_files: Service
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_context(locale="zh-CN", ignore_https_errors=True).new_page()
            page.set_default_timeout(20_000)
            # given: the Guangdong official logged in
            page.goto(f"{live_server}/login")
            page.fill("input[name=token]", service_files.tokens.guangdong)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{live_server}/")
            base = f"{live_server}/runs/{RUN_NEW}/provinces/44"
            # when: each tier's list is opened on its own
            for tier, heading, first in (
                ("specialized", "专精特新中小企业（附件1）", A),
                ("little_giant", "专精特新“小巨人”企业（附件2）", C),
            ):
                page.goto(f"{base}?tier={tier}")
                # then: that tier alone, named in Chinese, ranked from 1, no code to read
                assert page.locator("section.tier h2").all_inner_texts() == [heading]
                table = page.locator(f"#invitations-{tier}")
                assert table.locator("tbody tr td").first.inner_text() == "1"
                assert first in table.inner_text()
                assert shown_codes(page.inner_text("main")) == set(), tier
            page.goto(f"{base}?tier=specialized")
            assert "市场地位（附件1（五））［a1_5_market］：" in page.inner_text(
                "#invitations-specialized"
            )
            # and the watch list: title, ground and novelty in words
            page.goto(f"{base}/watchlist")
            watch = page.inner_text("#watchlist")
            assert "专精特新中小企业" in watch and "列入经营异常名录或严重失信主体名单" in watch
            assert shown_codes(page.inner_text("main")) == set()
        finally:
            browser.close()


def test_confirm_a_mention_undo_it_and_see_it_back_in_the_queue_in_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service_files: Service
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.service.review_world import (
        GUANGDONG_MENTION,
        SHENZHEN,
        make_review_app,
        make_world,
    )

    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "home"))
    world = make_world(tmp_path)
    app = make_review_app(world, service_files.tokens_file)
    with serve(app, self_signed(tmp_path)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_context(locale="zh-CN", ignore_https_errors=True).new_page()
            page.set_default_timeout(20_000)
            # given: the Guangdong official on the review page, one mention pending
            page.goto(f"{url}/login")
            page.fill("input[name=token]", service_files.tokens.guangdong)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.goto(f"{url}/review")
            assert page.locator("section.mention").count() == 1
            assert page.locator("#decided-empty").is_visible()
            # when: they pick the Shenzhen firm, a page names it and asks to confirm
            page.click(f"section.mention button.confirm[data-code='{SHENZHEN}']")
            assert "深圳市华芯微电子有限公司" in page.inner_text("#confirm-firm")
            page.click("#confirm-decision")
            page.wait_for_url(f"{url}/review?done=decided")
            # then: gone from the queue, listed as decided with who decided
            assert page.locator("section.mention").count() == 0
            decided = page.locator("#decided-table tr.decided")
            assert decided.count() == 1
            assert (
                "广东省工业和信息化厅" in decided.inner_text() and SHENZHEN in decided.inner_text()
            )
            # when: they undo it
            decided.locator("button.undo").click()
            page.wait_for_url(f"{url}/review?done=undone")
            # then: back in the queue, nothing left to undo
            assert "重新进入待复核队列" in page.inner_text("#review-notice")
            mentions = page.locator("section.mention")
            assert mentions.count() == 1 and GUANGDONG_MENTION in mentions.first.inner_text()
            assert page.locator("#decided-empty").is_visible()
        finally:
            browser.close()
