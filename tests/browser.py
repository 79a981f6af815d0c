"""Real chromium for browser tests: Debian's build driven by Playwright, and axe-core checks.

Content must be written before a page is opened: Playwright's sync API runs in a greenlet, and
ORM calls made from there would open a database connection nobody closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a closed network: without the background ones chromium keeps dialling out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

browser_test = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@contextmanager
def chromium_page() -> Iterator:
    """A fresh page in a fresh headless chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def serious_violations(page, selector: str | None = None) -> list[str]:
    """axe-core's serious and critical findings on the page (or one part of it), readable."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=selector) if selector else Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["html"] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def log_in_to_admin(page, base_url: str, username: str, password: str) -> None:
    """Sign in through the admin's login form and wait until the admin's index has loaded.

    The wait names the index's exact address: a pattern such as "**/admin/" also matches the
    login page's own address (…/login/?next=/admin/), so it returns before the form is sent,
    and the next goto then races the sign-in.
    """
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
