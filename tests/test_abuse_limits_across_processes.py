"""Abuse limits hold across processes: two real `pressroom serve` servers share one count."""

from __future__ import annotations

import http.client
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest

from tests.servers import prepare_site, serving, site_env

pytestmark = pytest.mark.slow

DEMO_LOGIN = ("editor", "editor-demo-password")


def request(
    base: str, method: str, path: str, form: dict | None = None, cookies: str = ""
) -> tuple[int, dict[str, str], str]:
    """One request, redirects not followed: status, headers, body."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": cookies} if cookies else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, text
    connection.close()
    return result


def sign_in(base: str, username: str, password: str) -> tuple[int, str]:
    """The admin's sign-in form as a browser posts it (CSRF cookie and token)."""
    _, headers, page = request(base, "GET", "/admin/login/")
    cookie = SimpleCookie(headers["set-cookie"])["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    status, _, answer = request(
        base, "POST", "/admin/login/?next=/admin/", form, cookies=f"csrftoken={cookie}"
    )
    return status, answer


def test_signup_and_sign_in_limits_are_shared_by_two_server_processes(tmp_path):
    env = site_env(
        tmp_path,
        DIGEST_SIGNUPS_PER_IP_PER_HOUR="3",
        LOGIN_ATTEMPTS_PER_ACCOUNT="3",
        LOGIN_ATTEMPTS_PER_ADDRESS="50",
    )
    prepare_site(env, articles=5)
    with serving(env, "--workers", "1") as first, serving(env, "--workers", "1") as second:
        assert first != second
        answers = [
            request(first, "POST", "/digest/", {"email": f"reader{n}@example.org"})[0]
            for n in range(3)
        ]
        assert answers == [302, 302, 302]
        # The fourth signup from the same address goes to the other process: still refused.
        status, headers, body = request(
            second, "POST", "/digest/", {"email": "reader9@example.org"}
        )
        assert status == 429, body[:500]
        assert "Too many signups" in body
        assert int(headers["retry-after"]) > 0

        # Three wrong passwords through the first process lock the account in the second:
        # even the right password is not checked there.
        username, password = DEMO_LOGIN
        for _ in range(3):
            status, page = sign_in(first, username, "wrong guess")
            assert status == 200
            assert "Please enter the correct username and password" in page
        status, page = sign_in(second, username, password)
        assert status == 200, "no redirect into the admin"
        assert "Too many sign-in attempts" in page
