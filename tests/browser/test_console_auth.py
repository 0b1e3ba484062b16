"""The console's guards without a browser: sign-in needs its form token and an admin key,
and every POST needs the session's CSRF token."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.gateway import Gateway

POSTS = [
    "/ui/logout",
    "/ui/sql",
    "/ui/sql/csv",
    "/ui/keys",
    "/ui/functions/support-bot",
    "/ui/functions/support-bot/preview",
    "/ui/campaigns/tone-test/status?function=support-bot",
    "/ui/campaigns/tone-test/weights?function=support-bot",
    "/ui/versions/1/rollback",
    "/ui/inferences/00000000-0000-7000-8000-000000000000/feedback",
]


def signed_in(gateway: Gateway, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=gateway.url, follow_redirects=False, timeout=30)
    form = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text
    response = client.post(
        "/ui/login", data={"login_token": token.group(1), "api_key": key, "next": "/ui/sql"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/sql"
    page = client.get("/ui/sql")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf
    return client, csrf.group(1)


def test_sign_in_without_the_form_token_is_refused(
    console_gateway: Gateway, admin_key: str
) -> None:
    response = httpx.post(
        console_gateway.url + "/ui/login", data={"api_key": admin_key}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "switchyard_console=" not in response.headers.get("set-cookie", "")


def test_wrong_key_is_refused(console_gateway: Gateway) -> None:
    client = httpx.Client(base_url=console_gateway.url, follow_redirects=False)
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/ui/login").text)
    assert token
    response = client.post("/ui/login", data={"login_token": token.group(1), "api_key": "sy-wrong"})
    assert response.status_code == 401 and "not valid" in response.text


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_csrf_token(
    console_gateway: Gateway, admin_key: str, path: str
) -> None:
    client, csrf = signed_in(console_gateway, admin_key)
    missing = client.post(path, data={"query": "SELECT 1"})
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = client.post(path, data={"query": "SELECT 1", "csrf_token": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    # The session itself is still good after refused posts.
    assert client.get("/ui/sql").status_code == 200


def test_pages_send_a_strict_content_security_policy(console_gateway: Gateway) -> None:
    response = httpx.get(console_gateway.url + "/ui/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
