"""The searchable sidebar filter of the admin changelists (core.admin_filters.AutocompleteFilter), in Chromium:
type part of an organisation's name, choose it, and the changelist shows only its rows; the page raises no script
error and the Content-Security-Policy refuses nothing (select2 and its loader are served from our own origin)."""

import pytest

from tests.factories import EOIFactory, FacilityTypeFactory, OrganisationFactory, PhaseFactory

pytestmark = pytest.mark.browser


def test_choose_an_organisation_by_searching_for_it(context, sign_in, staff_user):
    phase = PhaseFactory(number=1)
    office = FacilityTypeFactory()
    wanted = OrganisationFactory(name_en="Kestrel Robotics", code="kestrel")
    other = OrganisationFactory(name_en="Nimbrel Labs", code="nimbrel")
    mine = EOIFactory(organisation=wanted, preferred_phase=phase, facility_type=office, status="submitted")
    EOIFactory(organisation=other, preferred_phase=phase, facility_type=office, status="submitted")
    sign_in(staff_user)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto("/admin/partners/expressionofinterest/")
    assert page.locator("#result_list tbody tr").count() == 2
    page.locator("#changelist-filter .select2-selection").first.click()
    page.locator(".select2-search__field").fill("Kestrel")
    page.locator(".select2-results__option", has_text="Kestrel Robotics").click()
    page.wait_for_url(f"**organisation__id__exact={wanted.pk}**")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert mine.reference in rows.first.inner_text()
    assert "Kestrel Robotics" in page.locator("#changelist-filter").inner_text()
    assert not problems, problems
