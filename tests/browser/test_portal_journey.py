"""A partner's whole journey through the portal in Chromium, with axe-core on every page it visits, the live
(htmx) validation of the EOI form, and the EOI form used with the keyboard alone."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import PASSWORD, assert_accessible
from tests.factories import FacilityTypeFactory, OrganisationFactory, ParcelFactory, PhaseFactory, partner_user

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The EOI form's fields, in the order Tab must reach them.
FIELD_IDS = [
    "id_facility_type",
    "id_preferred_phase",
    "id_preferred_parcel",
    "id_gfa_m2",
    "id_capacity",
    "id_jobs",
    "id_investment_hkd_m",
    "id_wanted_start",
    "id_description",
    "id_language",
]


@pytest.fixture
def alice(db):
    """A partner organisation's admin, and a campus with one phase, one parcel and the office facility type."""
    phase = PhaseFactory(number=1, name_en="Phase 1")
    ParcelFactory(phase=phase, campus=phase.campus, code="P1-A")
    FacilityTypeFactory()
    return partner_user(OrganisationFactory(name_en="Alpha Robotics"), username="alice", role="admin")


@pytest.fixture
def csp_violations(page):
    """Console messages about the Content Security Policy (htmx must work under it without inline code)."""
    messages = []
    page.on(
        "console",
        lambda message: messages.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return messages


def tab_to(page, locator, max_presses: int = 25) -> int:
    """Press Tab until `locator` has the focus; how many presses it took (0 if it already had it)."""
    for presses in range(max_presses + 1):
        if locator.evaluate("element => element === document.activeElement"):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} not reached with {max_presses} Tab presses")


def test_a_partner_drafts_attaches_submits_and_withdraws_an_eoi(page, alice, csp_violations):
    # Sign in through the sign-in form.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Dashboard.
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", level=1, name="Partner portal")).to_be_visible()
    expect(page.get_by_text("Alpha Robotics")).to_be_visible()
    expect(page.get_by_text("Your organisation has no expressions of interest yet.")).to_be_visible()
    assert_accessible(page)

    # The EOI form, validated as it is filled in.
    page.get_by_role("link", name="New expression of interest").click()
    expect(page.get_by_role("heading", level=1, name="New expression of interest")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Facility type").select_option(label="Office / R&D")
    expect(page.get_by_label("Capacity (in workstations)")).to_be_visible()  # the label names the type's unit
    gfa = page.get_by_label("GFA (m²)")
    gfa.fill("-5")
    gfa.press("Tab")
    expect(page.locator("#id_gfa_m2_error")).to_have_text("GFA must be more than 0 m².")
    expect(gfa).to_have_attribute("aria-invalid", "true")
    expect(gfa).to_have_accessible_description(re.compile(r"GFA must be more than 0 m²\."))
    assert_accessible(page)
    gfa.fill("2500")
    gfa.press("Tab")
    expect(page.locator("#id_gfa_m2_error")).to_be_empty()
    expect(gfa).not_to_have_attribute("aria-invalid", "true")
    expect(gfa).not_to_have_accessible_description(re.compile("more than 0"))

    page.get_by_label("Preferred phase").select_option(label="Phase 1")
    page.get_by_label("Preferred parcel").select_option(label="P1-A (Phase 1)")
    page.get_by_label("Jobs created").fill("80")
    page.get_by_label("Investment (HKD million)").fill("150")
    page.get_by_label("Wanted start date").fill("2031-03-01")
    page.get_by_label("Description").fill("An AI lab with offices for 80 engineers.")
    page.get_by_role("button", name="Save draft").click()

    # The EOI page of the draft.
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Expression of interest \d{5}$"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.locator("strong.status")).to_have_text("Draft")
    assert_accessible(page)

    # Attach a small real PDF.
    page.get_by_label("File (required)").set_input_files(
        {"name": "Business plan.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Attach").click()
    expect(page.get_by_role("status")).to_contain_text("File Business plan.pdf attached.")
    expect(page.get_by_role("link", name="Business plan.pdf")).to_be_visible()
    assert_accessible(page)

    # Submit it from the form.
    page.get_by_role("link", name="Edit or submit the draft").click()
    expect(page.get_by_label("GFA (m²)")).to_have_value(re.compile(r"^2500(\.00)?$"))
    page.get_by_role("button", name="Submit").click()

    timeline = page.get_by_role("list", name="Status history")
    expect(page.locator("strong.status")).to_have_text("Submitted")
    expect(timeline.get_by_role("listitem")).to_have_count(2)
    expect(timeline).to_contain_text("Draft")
    expect(timeline).to_contain_text("Submitted")
    expect(page.get_by_role("link", name="Edit or submit the draft")).to_have_count(0)
    assert_accessible(page)

    # Withdraw it, through the confirmation page.
    page.get_by_role("link", name="Withdraw").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Withdraw expression of interest"))).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Reason (optional)").fill("Our plans changed.")
    page.get_by_role("button", name="Withdraw").click()

    expect(page.locator("strong.status")).to_have_text("Withdrawn")
    expect(timeline.get_by_role("listitem")).to_have_count(3)
    expect(timeline).to_contain_text("Our plans changed.")
    expect(page.get_by_role("link", name="Withdraw")).to_have_count(0)
    assert_accessible(page)

    # Back on the dashboard, the EOI is listed with its status.
    page.get_by_role("link", name="Back to the partner portal").click()
    expect(page.get_by_role("table", name="Expressions of interest")).to_contain_text("Withdrawn")
    assert_accessible(page)

    # The collection statement.
    page.get_by_role("link", name="How we handle your personal data").click()
    expect(page.get_by_role("heading", level=1, name="Personal information collection statement")).to_be_visible()
    assert_accessible(page)

    assert not csp_violations, csp_violations


def test_the_eoi_form_works_with_the_keyboard_alone(page, sign_in, alice, csp_violations):
    sign_in(alice)
    page.goto("/portal/eois/new/")

    # Tab reaches every field, in the order they are shown.
    fields = [page.locator(f"#{field_id}") for field_id in FIELD_IDS]
    tab_to(page, fields[0])
    for field in fields[1:]:
        assert 1 <= tab_to(page, field, max_presses=4) <= 4  # the date input takes a press per part

    # Fill it in: arrow keys choose in a select, typing fills the rest.
    fields[0].focus()
    page.keyboard.press("ArrowDown")  # Office / R&D
    expect(fields[0]).to_have_value(re.compile(r"\d+"))
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # Phase 1
    expect(fields[1]).to_have_value(re.compile(r"\d+"))
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("1800")
    expect(fields[3]).to_have_value("1800")
    tab_to(page, fields[8])
    page.keyboard.type("Edge computing for our robotics fleet.")

    # Space on "Save draft" saves it.
    save = page.get_by_role("button", name="Save draft")
    tab_to(page, save)
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Expression of interest \d{5}$"))).to_be_visible()
    expect(page.locator("strong.status")).to_have_text("Draft")

    # Enter on the link opens the form again, and Enter on "Submit" submits it.
    tab_to(page, page.get_by_role("link", name="Edit or submit the draft"))
    page.keyboard.press("Enter")
    expect(page.get_by_label("GFA (m²)")).to_have_value(re.compile(r"^1800(\.00)?$"))
    submit = page.get_by_role("button", name="Submit")
    tab_to(page, submit, max_presses=40)
    page.keyboard.press("Enter")
    expect(page.locator("strong.status")).to_have_text("Submitted")

    assert not csp_violations, csp_violations


def test_an_admin_invites_a_colleague_who_joins_on_accessible_pages(page, sign_in, alice, context, csp_violations):
    from django.core import mail

    sign_in(alice)
    page.goto("/portal/")
    page.get_by_role("link", name="Invite a colleague").click()
    expect(page.get_by_role("heading", level=1, name="Invite a colleague")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("carol@example.org")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to carol@example.org.")
    pending = page.get_by_role("table", name="Invitations not yet accepted")
    expect(pending).to_contain_text("carol@example.org")
    expect(page.get_by_role("table", name="People in your organisation")).to_contain_text("alice")
    assert_accessible(page)
    pending.get_by_role("button", name="Resend the invitation to carol@example.org").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent again to carol@example.org.")

    link = re.search(r"https?://\S+/portal/invitations/[0-9a-f-]{36}/", mail.outbox[-1].body).group(0)
    context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Accept the invitation")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Full name").fill("Carol Chan")
    page.get_by_label("Password (required)", exact=True).fill("a-long-pass-4321")
    page.get_by_label("Password again").fill("not-the-same-4321")
    page.get_by_role("button", name="Create my account").click()
    again = page.get_by_label("Password again")
    expect(again).to_have_attribute("aria-invalid", "true")
    expect(again).to_have_accessible_description(re.compile("The two passwords differ."))
    assert_accessible(page)
    page.get_by_label("Password (required)", exact=True).fill("a-long-pass-4321")
    again.fill("a-long-pass-4321")
    page.get_by_role("button", name="Create my account").click()

    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_text("Signed in as carol")).to_be_visible()
    expect(page.get_by_text("Alpha Robotics").first).to_be_visible()
    assert not csp_violations, csp_violations


def test_the_eoi_form_narrows_the_parcels_to_the_phase_and_shows_no_empty_error_box(
    page, sign_in, alice, csp_violations
):
    from planning.models import Phase

    campus = Phase.objects.get(number=1).campus
    ParcelFactory(phase=PhaseFactory(number=2, name_en="Phase 2", campus=campus), campus=campus, code="P2-A")
    sign_in(alice)
    page.goto("/portal/eois/new/")

    expect(page.locator("#eoi-form-errors")).to_be_empty()
    assert page.locator("#eoi-form-errors").bounding_box()["height"] == 0  # no red bar on a blank form
    expect(page.get_by_role("alert")).to_have_count(0)
    parcel = page.get_by_label("Preferred parcel")
    expect(parcel.locator("option")).to_have_count(3)  # the blank one, P1-A and P2-A

    page.get_by_label("Preferred phase").select_option(label="Phase 1")
    expect(parcel.locator("option")).to_have_count(2)
    expect(parcel.locator("option").nth(1)).to_have_text("P1-A (Phase 1)")
    parcel.select_option(label="P1-A (Phase 1)")

    # Choosing another phase keeps the chosen parcel in the list, reported as outside the phase.
    page.get_by_label("Preferred phase").select_option(label="Phase 2")
    expect(page.locator("#id_preferred_parcel_error")).to_have_text("Parcel P1-A is not in Phase 2.")
    expect(parcel).to_have_value(re.compile(r"\d+"))
    expect(parcel.locator("option", has_text="P2-A (Phase 2)")).to_have_count(1)

    # Leaving both empty is reported as it happens.
    parcel.select_option(value="")
    page.get_by_label("Preferred phase").select_option(value="")
    expect(page.locator("#id_preferred_phase_error")).to_have_text("Choose a preferred phase or parcel.")
    assert_accessible(page)
    assert not csp_violations, csp_violations


def test_the_review_queue_shows_status_and_submitted_at_1366_px(browser, live_server, sign_in, context, page):
    from partners.models import ExpressionOfInterest
    from tests.factories import EOIFactory, UserFactory

    staff = UserFactory(username="staff-b", role="Staff", is_staff=True)
    for name in ("Lumivane Biologics and Advanced Therapeutics Manufacturing Limited", "Kestrel Sight AI"):
        EOIFactory(organisation=OrganisationFactory(name_en=name), status=ExpressionOfInterest.Status.SUBMITTED)
    sign_in(staff)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/partners/expressionofinterest/")

    results = page.locator("#changelist .results")
    table = page.locator("#result_list")
    expect(table).to_be_visible()
    overflow = results.evaluate("element => element.scrollWidth - element.clientWidth")
    assert overflow <= 0, f"the queue scrolls sideways by {overflow} px"
    for header in ("Status", "Submitted"):
        box = page.get_by_role("columnheader", name=header).bounding_box()
        assert box["x"] + box["width"] <= 1366, header
