"""Browser fixtures: one Chromium per session (Debian's, never a downloaded one), a fresh context per test,
and a quick sign-in.

Every test here needs `live_server`, so its database access is transactional: the database is flushed after each
test, and the flush's post_migrate signal recreates the role groups (core.apps.ensure_roles).
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the fixtures' queries.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000
# A screenshot of every page open when a browser test fails (git-ignored), for the failure's report.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    context = item.funcargs.get("context") if hasattr(item, "funcargs") else None
    if report.failed and report.when == "call" and context is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", item.nodeid)[-150:]
        for index, page in enumerate(context.pages):
            path = ARTIFACTS / f"{name}-{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as error:  # a crashed page: say so, and keep the test's own failure
                report.sections.append(("screenshot", f"none of page {index}: {error}"))
            else:
                report.sections.append(("screenshot", str(path)))
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}: install Debian's `chromium` package to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, live_server, transactional_db):
    """A fresh browser context (no cookies) whose relative URLs go to the live server, in British English.

    It asks for the database itself so that its teardown runs before the database is flushed after the test: the
    context is closed, then the live server's requests still in flight are waited for. A request a page had fired
    as the test ended (an htmx refresh after the last assertion, say) would otherwise hold a table the flush's
    TRUNCATE waits for while waiting for one the TRUNCATE holds: PostgreSQL ends that deadlock by failing one side
    (seen: a 500 from /plan/ in the log, and once the next test given the last one's rows)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()
    wait_for_requests_in_flight(live_server)


def wait_for_requests_in_flight(live_server) -> None:
    """Join the live server's request threads. Django's ThreadedWSGIServer is a socketserver.ThreadingMixIn, which
    keeps its handler threads in `_threads` (it joins them itself only when the server closes)."""
    for thread in list(getattr(live_server.thread.httpd, "_threads", ())):
        thread.join(timeout=TIMEOUT_MS / 1000)
        if thread.is_alive():
            raise AssertionError(f"a live-server request still running {TIMEOUT_MS} ms after the test: {thread.name}")


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def sign_in(context, live_server):
    """`sign_in(user)` gives the test's browser context a session for `user`, without the sign-in form."""
    from django.conf import settings
    from django.test import Client

    def sign_in(user) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    return sign_in
