"""Sign-in, where `/` sends each role, role pages and the language switch (the pages' query counts are
baselines: tests/test_query_counts.py)."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from tests.factories import ParcelFactory, PhaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    client.force_login(user)
    return client


class TestSignIn:
    def test_anonymous_users_reach_only_the_public_pages(self, client):
        for url in ["/", "/plan/", "/dashboard/", "/portal/"]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url
        assert client.get("/admin/").status_code == 302
        assert client.get("/accounts/login/").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/schema/").status_code == 200
        docs = client.get("/api/docs/")
        assert docs.status_code == 200
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs.content.decode()
        assert client.options("/api/docs/").status_code == 405

    def test_sign_in_honours_next(self, client, planner):
        response = client.post(
            "/accounts/login/", {"username": "planner-t", "password": "secret-pass-123", "next": "/dashboard/"}
        )
        assert response.status_code == 302 and response["Location"] == "/dashboard/"

    def test_sign_in_refuses_an_outside_next(self, client, planner):
        response = client.post(
            "/accounts/login/",
            {"username": "planner-t", "password": "secret-pass-123", "next": "https://evil.example/"},
        )
        assert response["Location"] == "/"

    def test_wrong_password_shows_an_error_and_keeps_the_username(self, client, planner):
        response = client.post("/accounts/login/", {"username": "planner-t", "password": "nope"})
        assert response.status_code == 200
        content = response.content.decode()
        assert "Please enter a correct username and password" in content
        assert 'value="planner-t"' in content

    def test_repeated_failures_are_throttled_even_with_the_right_password(self, client, planner, settings):
        settings.AXES_FAILURE_LIMIT = 3  # LOGIN_FAILURE_LIMIT, as the settings map it
        for _ in range(2):
            assert client.post("/accounts/login/", {"username": "Planner-T", "password": "nope"}).status_code == 200
        locked = client.post("/accounts/login/", {"username": "planner-t", "password": "nope"})
        assert locked.status_code == 429  # the failure that reaches the limit is told so

        refused = client.post("/accounts/login/", {"username": "planner-t", "password": "secret-pass-123"})

        assert refused.status_code == 429
        assert "Too many failed sign-in attempts. Wait 15 minutes" in refused.content.decode()
        assert 'value="planner-t"' in refused.content.decode()
        assert "_auth_user_id" not in client.session
        # The window has passed since the last failure.
        AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))
        assert (
            client.post("/accounts/login/", {"username": "planner-t", "password": "secret-pass-123"}).status_code == 302
        )

    def test_sign_out(self, client, planner):
        sign_in(client, planner)
        response = client.post("/accounts/logout/")
        assert response.status_code == 302
        assert client.get("/plan/").status_code == 302


class TestRoleHomes:
    @pytest.mark.parametrize(
        ("role", "home"),
        [("planner", "/plan/"), ("executive", "/dashboard/"), ("staff", "/admin/"), ("partner", "/portal/")],
    )
    def test_root_sends_each_role_to_its_place(self, client, users, role, home):
        sign_in(client, users[role])
        response = client.get("/")
        assert response.status_code == 302 and response["Location"] == home
        assert client.get(home).status_code == 200

    def test_a_user_without_a_role_is_told_whom_to_ask(self, client):
        sign_in(client, UserFactory(username="nobody"))
        response = client.get("/")
        assert response.status_code == 200
        assert "Ask HKSTP staff to give you access." in response.content.decode()

    @pytest.mark.parametrize(
        ("role", "url"),
        [
            ("partner", "/plan/"),
            ("executive", "/plan/"),
            ("planner", "/portal/"),
            ("executive", "/portal/"),
        ],
    )
    def test_other_roles_pages_are_forbidden(self, client, users, role, url):
        sign_in(client, users[role])
        response = client.get(url)
        assert response.status_code == 403
        assert "Your role does not give access to this page." in response.content.decode()

    def test_a_partner_opening_the_dashboard_is_sent_to_the_portal(self, client, users):
        sign_in(client, users["partner"])
        response = client.get("/dashboard/?phase=1")
        assert response.status_code == 302 and response["Location"] == "/portal/"

    def test_navigation_shows_the_role_s_places_and_the_user(self, client, planner):
        sign_in(client, planner)
        content = client.get("/plan/").content.decode()
        assert 'href="/plan/" aria-current="page"' in content
        assert 'href="/dashboard/"' in content
        assert 'href="/portal/"' not in content and 'href="/admin/"' not in content
        assert "Signed in as planner-t" in content

    def test_the_current_place_is_the_longest_address_the_page_is_under(self, client, planner, executive):
        sign_in(client, planner)
        content = client.get("/plan/schedule/").content.decode()
        assert 'href="/plan/schedule/" aria-current="page"' in content
        assert 'href="/plan/" aria-current' not in content
        sign_in(client, executive)
        content = client.get("/dashboard/").content.decode()
        assert 'href="/plan/schedule/"' in content and 'href="/plan/"' not in content


class TestPages:
    def test_plan_page_lists_phases_with_totals_and_warnings(self, client, planner):
        phase = PhaseFactory(number=1, name_en="Phase 1", target_area_ha=3)  # one 1 ha parcel: -66.7 %
        ParcelFactory(phase=phase)
        sign_in(client, planner)

        content = client.get("/plan/").content.decode()

        assert "Phase 1" in content
        assert "1.00" in content  # parcels in ha
        assert "-66.7 %" in content

    def test_plan_page_shows_the_campus_warnings(self, client, planner, demo):
        sign_in(client, planner)
        content = client.get("/plan/").content.decode()
        assert "Warnings on the plan" in content
        assert "Planned talent housing (1,800 units) exceeds the campus cap of 1,500 units." in content

    def test_language_switch_shows_chinese(self, client, planner):
        PhaseFactory(number=1, name_en="Phase 1", name_zh="第一期")
        sign_in(client, planner)
        response = client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/plan/"})
        assert response.status_code == 302

        content = client.get("/plan/").content.decode()

        assert '<html lang="zh-hant">' in content
        assert "第一期" in content
        assert "登出" in content  # "Sign out"

    def test_security_headers(self, client, planner):
        sign_in(client, planner)
        response = client.get("/plan/")
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
