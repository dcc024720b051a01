"""The header's forms: switching language and signing out."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_accessible

pytestmark = pytest.mark.browser


def test_switching_to_traditional_chinese_stays_on_the_page(page, sign_in, planner):
    sign_in(planner)
    page.goto("/plan/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_label("Language").select_option(label="繁體中文")
    page.get_by_role("button", name="Switch").click()

    expect(page).to_have_url(re.compile(r"/plan/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.get_by_label("Language")).to_have_value("zh-hant")
    assert_accessible(page)


def test_signing_out_returns_to_the_sign_in_page(page, sign_in, planner):
    sign_in(planner)
    page.goto("/plan/")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto("/plan/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/plan/$"))
