"""The sign-in page: accessible, with errors tied to the form, and usable with the keyboard alone."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import PASSWORD, assert_accessible

pytestmark = pytest.mark.browser

LOGIN_URL = "/accounts/login/"


def tab_to(page, locator, max_presses: int = 20) -> int:
    """Press Tab until `locator` has the focus; how many presses it took (0 if it already had it)."""
    for presses in range(max_presses + 1):
        if locator.evaluate("element => element === document.activeElement"):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} not reached with {max_presses} Tab presses")


def test_sign_in_page_is_accessible(page):
    page.goto(LOGIN_URL)

    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_editable()
    expect(page.get_by_label("Password")).to_be_editable()
    assert_accessible(page)


def test_wrong_password_shows_an_error_tied_to_the_form_and_keeps_the_username(page, planner):
    page.goto(LOGIN_URL)
    page.get_by_label("Username").fill(planner.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(re.escape(LOGIN_URL) + "$"))
    error = page.get_by_role("alert")
    expect(error).to_contain_text("Please enter a correct username and password")
    form = page.locator("main form")
    expect(form).to_have_accessible_description(re.compile("Please enter a correct username and password"))
    expect(page.get_by_label("Username")).to_have_value(planner.username)
    expect(page.get_by_label("Password")).to_have_value("")
    assert_accessible(page)


def test_a_missing_password_is_reported_on_the_field(page, planner):
    page.goto(LOGIN_URL)
    page.get_by_label("Username").fill(planner.username)
    page.get_by_role("button", name="Sign in").click()

    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("This field is required.")
    expect(page.get_by_label("Username")).to_have_value(planner.username)
    assert_accessible(page)


def test_a_planner_signs_in_with_the_keyboard_alone(page, planner):
    page.goto(LOGIN_URL)

    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type(planner.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/plan/$"))
    expect(page.get_by_role("heading", level=1, name="Phase plans")).to_be_visible()


def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, sign_in, planner):
    # Not on the sign-in page: Django's sign-in form puts `autofocus` on the username field.
    sign_in(planner)
    page.goto("/plan/")

    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Enter")

    expect(page.locator("main#main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/plan/#main$"))


def test_a_locked_sign_in_is_announced_with_the_wait_and_keeps_the_username(page, planner, settings):
    settings.AXES_FAILURE_LIMIT = 2
    page.goto(LOGIN_URL)
    for _attempt in range(2):
        page.get_by_label("Username").fill(planner.username)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()

    error = page.get_by_role("alert")
    expect(error).to_contain_text("Too many failed sign-in attempts. Wait 15 minutes and try again.")
    expect(page.locator("main form")).to_have_accessible_description(re.compile("Too many failed sign-in attempts"))
    expect(page.get_by_label("Username")).to_have_value(planner.username)
    assert_accessible(page)

    # The right password is refused too, until the window has passed.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
    expect(page).to_have_url(re.compile(re.escape(LOGIN_URL) + "$"))


def test_a_signed_in_person_changes_the_password_from_the_header(page, sign_in, partner):
    sign_in(partner)
    page.goto("/portal/")
    page.get_by_role("link", name="Change password").click()

    expect(page.get_by_role("heading", level=1, name="Change your password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-new-pass-9876")
    page.get_by_label("New password confirmation").fill("a-new-mismatch")
    page.get_by_role("button", name="Change my password").click()

    confirmation = page.get_by_label("New password confirmation")
    expect(confirmation).to_have_attribute("aria-invalid", "true")
    expect(confirmation).to_have_accessible_description(re.compile("The two password fields didn’t match"))
    assert_accessible(page)
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-new-pass-9876")
    confirmation.fill("a-new-pass-9876")
    page.get_by_role("button", name="Change my password").click()

    expect(page.get_by_role("heading", level=1, name="Password changed")).to_be_visible()
    assert_accessible(page)


def test_a_forgotten_password_is_reset_from_the_sign_in_page(page, partner):
    from django.core import mail

    page.goto(LOGIN_URL)
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", level=1, name="Reset your password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email").fill(partner.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1, name="Check your e-mail")).to_be_visible()

    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Choose a new password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill("a-new-pass-9876")
    page.get_by_label("New password confirmation").fill("a-new-pass-9876")
    page.get_by_role("button", name="Set my password").click()

    expect(page.get_by_role("heading", level=1, name="Password set")).to_be_visible()
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Username").fill(partner.username)
    page.get_by_label("Password").fill("a-new-pass-9876")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
