"""The organisation-scoping rule, written once for every partner-scoped resource of the API and the portal.

A partner user reaches its own organisation's rows; another organisation's row answers exactly like an id that does
not exist (404, same body) for every method and every custom action of the resource, and is left unchanged; the
list holds only its own rows. A test module applies it by subclassing `ScopedResource` in a class named `Test...`
and saying how to make one row of an organisation:

    class TestScopedMoUs(ScopedResource):
        endpoint = "mous"

        def make(self, organisation):
            return MoUFactory(organisation=organisation)

The methods and actions tried are read from the resource's viewset (its router entry), so an action added later is
covered without editing the test. `ScopedPortalRows` is the same rule for the portal's pages on one row (EOIs,
their files, invitations), whose URLs are listed by the subclass.
"""

from types import SimpleNamespace

import pytest
from django.db import models
from django.test import Client

from tests.conftest import api_client_for
from tests.factories import partner_user

MISSING = 999_999
METHODS = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}


def viewset_of(endpoint: str):
    from innopole.urls import router

    return next(viewset for prefix, viewset, _basename in router.registry if prefix == endpoint)


def requests_of(endpoint: str) -> list[tuple[str, str]]:
    """(HTTP method, path after `<id>/`) of every request on one row: the CRUD methods and the detail actions."""
    viewset = viewset_of(endpoint)
    calls = [(method, "") for method in METHODS]
    for action in viewset.get_extra_actions():
        if action.detail:
            calls += [(method, f"{action.url_path}/") for method in sorted(action.mapping)]
    return calls


def snapshot(row: models.Model) -> dict | None:
    return type(row)._default_manager.filter(pk=row.pk).values().first()


class ScopedResource:
    """Mixin of the scoping tests (see the module docstring). Subclasses set `endpoint` and `make()`, and `body`
    (sent with writes) when an empty body would not reach the row lookup."""

    endpoint: str
    body: dict = {"title": "mine", "notes": "mine"}

    def make(self, organisation) -> models.Model:
        raise NotImplementedError

    def pytest_generate_tests(self, metafunc):
        if "call" in metafunc.fixturenames:
            calls = requests_of(self.endpoint)
            metafunc.parametrize("call", calls, ids=[f"{method}-{path or 'row'}" for method, path in calls])

    @pytest.fixture
    def rows(self, org_a, org_b, partner_a):
        return SimpleNamespace(own=self.make(org_a), other=self.make(org_b), client=api_client_for(partner_a))

    def test_the_partner_reads_its_own_row(self, rows):
        response = rows.client.get(f"/api/v1/{self.endpoint}/{rows.own.pk}/")
        assert response.status_code == 200, response.content
        assert response.json()["id"] == rows.own.pk

    def test_the_list_holds_only_the_partners_own_rows(self, rows):
        response = rows.client.get(f"/api/v1/{self.endpoint}/")
        assert response.status_code == 200, response.content
        assert [row["id"] for row in response.json()["results"]] == [rows.own.pk]

    def test_another_organisations_row_answers_like_a_missing_id(self, rows, call):
        method, path = call
        before = snapshot(rows.other)
        send = getattr(rows.client, method)
        hidden = send(f"/api/v1/{self.endpoint}/{rows.other.pk}/{path}", self.body, format="json")
        missing = send(f"/api/v1/{self.endpoint}/{MISSING}/{path}", self.body, format="json")

        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
        # 405 only where the resource offers the method for no row at all (it then tells nothing either).
        viewset = viewset_of(self.endpoint)
        offered = method in viewset.http_method_names and (bool(path) or hasattr(viewset, METHODS[method]))
        assert hidden.status_code == (404 if offered else 405), hidden.content
        assert snapshot(rows.other) == before


class ScopedPortalRows:
    """The scoping rule for the portal's URLs on one row, as an admin of org A (admins reach the most).

    Subclasses set `urls` (path with `{pk}` → the methods it answers) and `reach` (a request on the partner's own
    row and the status it answers, showing the row is reachable at all), and `make()` as for `ScopedResource`."""

    urls: dict[str, tuple[str, ...]]
    reach: tuple[str, str, int]

    def make(self, organisation) -> models.Model:
        raise NotImplementedError

    def pytest_generate_tests(self, metafunc):
        if "call" in metafunc.fixturenames:
            calls = [(method, url) for url, methods in self.urls.items() for method in methods]
            metafunc.parametrize("call", calls, ids=[f"{method}-{url}" for method, url in calls])

    @pytest.fixture
    def rows(self, org_a, org_b):
        client = Client()
        client.force_login(partner_user(org_a, username="portal-admin-a", role="admin"))
        return SimpleNamespace(own=self.make(org_a), other=self.make(org_b), client=client)

    def test_the_partner_reaches_its_own_row(self, rows):
        method, url, status = self.reach
        assert getattr(rows.client, method)(url.format(pk=rows.own.pk)).status_code == status

    def test_another_organisations_row_answers_like_a_missing_id(self, rows, call):
        method, url = call
        before = snapshot(rows.other)
        send = getattr(rows.client, method)
        hidden = send(url.format(pk=rows.other.pk))
        missing = send(url.format(pk=MISSING))

        assert hidden.status_code == missing.status_code == 404
        assert snapshot(rows.other) == before
