"""The HTML pages: login cookie, list, firm page, downloads, and the same province walls."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from service.app import COOKIE_NAME
from tests.service.conftest import RUN_NEW, A, B, D, E, F, Service

LIST_44 = "/runs/latest/provinces/44"


def log_in(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_pages_without_session_redirect_to_login(client: TestClient) -> None:
    for path in ("/", f"/runs/{RUN_NEW}", LIST_44, f"/runs/latest/firms/{A}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and "访问令牌" in page.text and 'type="password"' in page.text


def test_login_sets_an_httponly_strict_cookie(client: TestClient, service_files: Service) -> None:
    response = client.post(
        "/login", data={"token": service_files.tokens.guangdong}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie


@pytest.mark.parametrize("token_name", ["revoked", None])
def test_login_refuses_bad_tokens(
    client: TestClient, service_files: Service, token_name: str | None
) -> None:
    token = getattr(service_files.tokens, token_name) if token_name else "abc.def"
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 401 and "令牌无效或已停用" in response.text
    assert "set-cookie" not in response.headers


def test_login_then_runs_list_firm_and_download(client: TestClient, service_files: Service) -> None:
    log_in(client, service_files.tokens.guangdong)
    home = client.get("/")
    assert (
        home.status_code == 200
        and "已发布的运行" in home.text
        and "广东省工业和信息化厅" in home.text
    )
    assert f"{LIST_44}".replace("latest", RUN_NEW) in home.text
    assert "/provinces/11" not in home.text
    listing = client.get(LIST_44)
    assert "深圳市华芯微电子有限公司" in listing.text and "北京" not in listing.text
    assert "邀请名单" in listing.text and "共 3 家" in listing.text
    firm = client.get(f"/runs/latest/firms/{B}")
    assert firm.status_code == 200 and "市场地位" in firm.text and "数据缺口" in firm.text
    # p_qualify and the estimated score's bounds (an estimate, never a verdict)
    assert "认定概率（若现在申报）" in firm.text and "估算发展评价得分 52–77 分" in firm.text
    download = client.get("/api/v1/runs/latest/provinces/44/download/xlsx")
    assert download.status_code == 200
    assert load_workbook(io.BytesIO(download.content)).sheetnames[0] == "专精特新中小企业"


def test_list_page_filters_from_the_form(client: TestClient, service_files: Service) -> None:
    log_in(client, service_files.tokens.guangdong)
    empty_form = client.get(LIST_44, params={"tier": "", "outcome": "", "min_score": "", "q": ""})
    assert empty_form.status_code == 200 and "共 3 家" in empty_form.text
    searched = client.get(LIST_44, params={"q": "蓝海", "tier": "specialized"})
    assert "共 1 家" in searched.text and "深圳市蓝海精密机械有限公司" in searched.text
    assert "深圳市华芯微电子有限公司" not in searched.text
    paged = client.get(LIST_44, params={"page_size": 1})
    assert "下一页" in paged.text and "page=2" in paged.text


@pytest.mark.parametrize(
    "path",
    [
        "/runs/latest/provinces/11",
        "/runs/latest/provinces/11?q=北京",
        "/runs/latest/provinces/11/cultivation",
        "/runs/latest/provinces/11/renewals",
        f"/runs/latest/firms/{D}",
        f"/runs/latest/firms/{F}",
        "/api/v1/runs/latest/provinces/11/download/xlsx",
        "/api/v1/runs/latest/provinces/11/download/csv",
        "/runs/latest/provinces/99",
        "/runs/20990101-none",
    ],
)
def test_other_province_pages_are_404_with_a_session(
    client: TestClient, service_files: Service, path: str
) -> None:
    log_in(client, service_files.tokens.guangdong)
    response = client.get(path)
    assert response.status_code == 404
    assert "未找到" in response.text and D not in response.text and "北京" not in response.text


def test_cultivation_and_renewal_pages(client: TestClient, service_files: Service) -> None:
    log_in(client, service_files.tokens.guangdong)
    cultivation = client.get(f"{LIST_44}/cultivation")
    assert "培育名单" in cultivation.text and E in cultivation.text and F not in cultivation.text
    renewals = client.get(f"{LIST_44}/renewals")
    assert "复核名单" in renewals.text and "深圳市恒达新材料有限公司" in renewals.text
    assert client.get(f"{LIST_44}/unknown").status_code == 422


def test_ministry_session_reads_every_province(client: TestClient, service_files: Service) -> None:
    log_in(client, service_files.tokens.ministry)
    assert client.get("/runs/latest/provinces/11").status_code == 200
    assert client.get(f"/runs/latest/firms/{D}").status_code == 200
    assert client.get(f"/runs/latest/firms/{F}").status_code == 200


def test_invalid_page_parameters_get_a_chinese_422_page(
    client: TestClient, service_files: Service
) -> None:
    log_in(client, service_files.tokens.ministry)
    response = client.get(f"{LIST_44}?page=0&sort=evil")
    assert response.status_code == 422 and "请求参数有误" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert client.get(f"/runs/latest/firms/{A.lower()}").status_code == 422


def test_revoked_session_is_sent_back_to_login(client: TestClient, service_files: Service) -> None:
    client.cookies.set(COOKIE_NAME, service_files.tokens.revoked)
    response = client.get(LIST_44, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_logout_clears_the_cookie(client: TestClient, service_files: Service) -> None:
    log_in(client, service_files.tokens.guangdong)
    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert 'zjtx_session=""' in response.headers["set-cookie"]
    assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_forbid_framing_and_scripts(client: TestClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none'
