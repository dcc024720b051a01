"""Numbers read the same way in both languages: thousands grouped with a comma, units after the number."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from core.templatetags.units import grouped, m2, percent, with_unit
from core.units import fmt_m2, fmt_ratio, ha_to_m2, m2_to_ha
from tests.factories import FacilityFactory, ParcelFactory

LANGUAGES = ["en", "zh-hant"]


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware): later tests expect English."""
    yield
    translation.deactivate()


def render(source: str, **context) -> str:
    return Template("{% load l10n units %}" + source).render(Context(context))


@pytest.mark.parametrize("language", LANGUAGES)
def test_numbers_in_templates_are_grouped_in_both_languages(language):
    with translation.override(language):
        assert render("{{ value }}", value=253500) == "253,500"
        assert render('{{ value|floatformat:"0g" }}', value=Decimal("253500.00")) == "253,500"
        assert render("{{ value|floatformat:2 }}", value=Decimal("107000.5")) == "107,000.50"
        # What is not a quantity keeps its digits: an id in a URL or a hidden input.
        assert render("{{ value|unlocalize }}", value=1234) == "1234"
        assert render("{% url 'partners:eoi-detail' 1234 %}") == "/portal/eois/1234/"


@pytest.mark.parametrize("language", LANGUAGES)
def test_unit_helpers(language):
    with translation.override(language):
        assert m2(Decimal("30000.00")) == "30,000 m²"
        assert with_unit(Decimal("2.00"), "MW IT load") == "2 MW IT load"
        assert with_unit(Decimal("1500.25"), "seats") == "1,500.25 seats"
        assert percent(Decimal("0.730")) == "73 %"
        assert grouped(None) == "—" and m2("") == "—"


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_phase_table_groups_thousands_in_both_languages(client, planner, language):
    parcel = ParcelFactory(max_plot_ratio=Decimal("30"))
    FacilityFactory(parcel=parcel, gfa_m2=Decimal("253500"))
    client.force_login(planner)

    content = client.get("/plan/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert "253,500" in content and "253500" not in content


@pytest.mark.parametrize("language", LANGUAGES)
def test_ids_in_our_widgets_keep_their_digits(language):
    """Row ids above 999 printed as values would read "1,234" and select nothing."""
    from django.template.loader import render_to_string

    with translation.override(language):
        options = render_to_string(
            "partners/_parcel_options.html", {"parcel_options": [("Phase 1", [(1234, "P1-A")])], "parcel_value": "1234"}
        )
        spec = type("Spec", (), {"search_keep": [("status__exact", 5678)], "search_attrs": {}, "lookup_choices": []})
        spec.lookup_choices = [(1234, "Organisation 1234")]
        spec.loads_scripts = False
        spec.search_i18n = ""
        autocomplete = render_to_string(
            "admin/innopole/autocomplete_filter.html", {"spec": spec, "title": "organisation", "choices": []}
        )
    assert '<option value="1234" selected>P1-A</option>' in options
    assert '<option value="1234" selected>Organisation 1234</option>' in autocomplete
    assert 'value="5678"' in autocomplete


def test_hectares_and_square_metres_convert_both_ways_exactly():
    assert m2_to_ha(Decimal("253500")) == Decimal("25.35")
    assert ha_to_m2(Decimal("25.35")) == Decimal("253500")
    assert m2_to_ha(ha_to_m2(Decimal("0.0001"))) == Decimal("0.0001")  # one square metre, no float drift
    assert render("{{ area|ha }}", area=Decimal("253500")) == "25.35"


@pytest.mark.django_db
def test_a_parcel_s_hectares_are_the_template_s_and_the_api_s(client, planner):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("12345.67"))
    client.force_login(planner)

    found = client.get(f"/api/v1/parcels/{parcel.pk}/").json()

    assert parcel.site_area_ha == m2_to_ha(Decimal("12345.67")) == Decimal("1.234567")
    assert found["site_area_ha"] == pytest.approx(1.2346)


@pytest.mark.parametrize("language", LANGUAGES)
def test_areas_in_messages_are_grouped_with_their_unit(language):
    with translation.override(language):
        assert fmt_m2(Decimal("253500.4")) == "253,500 m²"
        assert fmt_ratio(Decimal("5.50")) == "5.5" and fmt_ratio(Decimal("5")) == "5.0"
