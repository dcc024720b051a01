"""Signing in and staying signed in: one lockout for every sign-in path (django-axes), the client's real address,
usernames compared as people read them, API tokens that expire and go with the password, password change and reset.

The reproductions of the security probe (H1, H2, M7, M8, L3, L4) are driven through HTTP, as an attacker would.
"""

import datetime
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from innopole.api_views import ClientAddressScopedRateThrottle
from partners import services as partner_services
from partners.models import Membership
from tests.factories import OrganisationFactory, UserFactory, partner_user

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"
TOKEN_URL = "/api/v1/auth/token/"
LOCKED = "Too many failed sign-in attempts. Wait 15 minutes and try again."


def token_post(username, password, **headers):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", **headers)


def site_post(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def admin_post(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"})


@pytest.fixture
def staff(db):
    from core.roles import STAFF

    return UserFactory(username="staff", role=STAFF, is_staff=True)


class TestTheClientAddress:
    """Security H1: the token endpoint believed any X-Forwarded-For, so a new header value was a new client."""

    def test_a_made_up_forwarded_for_does_not_reset_the_count(self, planner):
        answers = [
            token_post("planner-t", f"bad{i}", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(1, 6)
        ]

        assert answers == [400, 400, 400, 400, 429]
        refused = token_post("planner-t", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
        assert refused.status_code == 429
        assert refused.json() == {"detail": LOCKED}
        assert refused["Retry-After"] == "900"
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}

    def test_the_token_throttle_counts_the_peer_whatever_the_header_says(self, planner, monkeypatch):
        monkeypatch.setattr(ClientAddressScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
        answers = [token_post("nobody", "x", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(1, 6)]
        assert answers == [400, 400, 400, 429, 429]

    def test_forwarded_for_is_read_only_through_a_trusted_proxy(self, planner, settings):
        settings.TRUSTED_PROXIES = ["127.0.0.0/8"]  # the test client's peer address is 127.0.0.1
        for i in range(5):
            # What the client wrote itself stands left of what the proxy appended: only the proxy's entry counts.
            token_post("planner-t", f"bad{i}", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 198.51.100.7")

        assert token_post("planner-t", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
        # The same person from another address is not held up, nor is anyone else behind the proxy.
        assert token_post("planner-t", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}

    def test_a_chain_of_trusted_proxies_is_walked_from_the_right(self, planner, settings, client):
        settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
        site_post(client, "planner-t", "bad", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9, 10.1.1.1")
        site_post(client, "planner-t", "bad", HTTP_X_FORWARDED_FOR="not-an-address")
        assert list(AccessAttempt.objects.order_by("ip_address").values_list("ip_address", flat=True)) == [
            "127.0.0.1",
            "203.0.113.9",
        ]


class TestOneLockForEverySignIn:
    def test_the_admin_sign_in_is_locked_like_the_site(self, client, staff):
        """Security H2: /admin/login/ counted nothing; now its failures lock the account on every path."""
        answers = [admin_post(client, "staff", f"wrong{i}").status_code for i in range(5)]

        assert answers == [200, 200, 200, 200, 429]
        refused = admin_post(client, "staff", PASSWORD)
        assert refused.status_code == 429 and LOCKED in refused.content.decode()
        assert "_auth_user_id" not in client.session
        assert site_post(client, "staff", PASSWORD).status_code == 429
        assert token_post("staff", PASSWORD).status_code == 429

    def test_failures_on_different_paths_add_up(self, client, planner):
        site_post(client, "planner-t", "a")
        admin_post(client, "planner-t", "b")
        token_post("planner-t", "c")
        site_post(client, "planner-t", "d")

        assert token_post("planner-t", "e").status_code == 429
        assert site_post(client, "planner-t", PASSWORD).status_code == 429

    def test_the_lock_ends_with_the_window(self, client, planner):
        for i in range(5):
            site_post(client, "planner-t", f"bad{i}")
        assert site_post(client, "planner-t", PASSWORD).status_code == 429

        AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

        assert site_post(client, "planner-t", PASSWORD).status_code == 302

    def test_a_success_clears_the_failures(self, client, planner):
        for i in range(4):
            site_post(client, "planner-t", f"bad{i}")
        assert site_post(client, "planner-t", PASSWORD).status_code == 302
        client.post("/accounts/logout/")
        for i in range(4):
            assert site_post(client, "planner-t", f"again{i}").status_code == 200


class TestNobodyElseIsLockedOut:
    def test_failures_for_other_usernames_from_one_address_do_not_refuse_an_untouched_account(self, client, planner):
        """Security M7: twenty failures from one address, for anyone, locked out everybody behind it."""
        for i in range(25):
            assert site_post(client, f"someone{i}", "wrong").status_code == 200
        for i in range(6):
            site_post(client, "ghost", f"wrong{i}")

        assert site_post(client, "planner-t", PASSWORD).status_code == 302
        assert token_post("planner-t", PASSWORD).status_code == 200
        client.post("/accounts/logout/")
        assert site_post(client, "ghost", "wrong").status_code == 429

    def test_an_account_locked_from_one_address_signs_in_from_another(self, client, planner):
        for i in range(5):
            site_post(client, "planner-t", f"bad{i}", REMOTE_ADDR="203.0.113.5")
        assert site_post(client, "planner-t", PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 429
        assert site_post(client, "planner-t", PASSWORD, REMOTE_ADDR="203.0.113.6").status_code == 302


class TestUsernamesAsPeopleReadThem:
    def test_full_width_and_case_variants_share_one_lock(self, client, planner):
        """Security M8: `ｐｌａｎｎｅｒ-ｔ` was a fresh count for the same account."""
        for username in ["planner-t", "Planner-T", "ｐｌａｎｎｅｒ-ｔ", "ＰＬＡＮＮＥＲ-Ｔ"]:
            assert site_post(client, username, "wrong").status_code == 200
        assert token_post(" PLANNER-t ", "wrong").status_code == 429

        assert site_post(client, "planner-t", PASSWORD).status_code == 429
        refused = site_post(client, "ｐｌａｎｎｅｒ-ｔ", PASSWORD)
        assert refused.status_code == 429
        assert 'value="planner-t"' in refused.content.decode()  # the form's own NFKC
        assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"planner-t"}

    def test_the_token_endpoint_reads_full_width_usernames_like_the_site(self, planner):
        assert token_post("ｐｌａｎｎｅｒ-ｔ", PASSWORD).status_code == 200

    @pytest.fixture
    def invitation(self, db):
        organisation = OrganisationFactory(name_en="Corvenna CDMO")
        admin = partner_user(organisation, username="corvenna-admin", role="admin")
        return partner_services.invitation_create(organisation=organisation, email="new@corvenna.example", actor=admin)

    @pytest.mark.parametrize("username", ["Ｓｔａｆｆ", "ｓｔａｆｆ", "STAFF", " Staff "])
    def test_an_invitation_cannot_create_a_look_alike_of_an_account(self, client, staff, invitation, username):
        """Security L3: `Ｓｔａｆｆ` passed the case-insensitive check and was stored as `Staff` beside `staff`."""
        response = client.post(
            f"/portal/invitations/{invitation.token}/",
            {"username": username, "password": "a-long-pass-4321", "password_confirm": "a-long-pass-4321"},
        )

        assert response.status_code == 200
        assert re.search(r'id="id_username_error"[^>]*>\s*<p>This username is taken', response.content.decode())
        assert list(get_user_model().objects.filter(username__iexact="staff").values_list("username", flat=True)) == [
            "staff"
        ]

    def test_an_invitation_stores_the_normalised_spelling(self, client, invitation):
        response = client.post(
            f"/portal/invitations/{invitation.token}/",
            {"username": "Ｎｅｗｂｉｅ", "password": "a-long-pass-4321", "password_confirm": "a-long-pass-4321"},
        )
        assert response.status_code == 302
        assert Membership.objects.get(organisation=invitation.organisation, user__username="Newbie")


class TestAudit:
    def test_sign_ins_failures_and_lockouts_are_recorded(self, client, planner):
        site_post(client, "planner-t", PASSWORD)
        token_post("planner-t", PASSWORD)
        client.post("/accounts/logout/")
        for i in range(5):
            site_post(client, "executive", f"bad{i}")

        assert list(AccessLog.objects.order_by("attempt_time").values_list("username", "path_info")) == [
            ("planner-t", "/accounts/login/"),
            ("planner-t", TOKEN_URL),
        ]
        failures = list(AccessFailureLog.objects.order_by("attempt_time").values_list("username", "locked_out"))
        assert failures == [("executive", False)] * 4 + [("executive", True)]
        attempt = AccessAttempt.objects.get()
        assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("executive", "127.0.0.1", 5)
        assert "bad" not in attempt.post_data  # passwords are masked

    def test_staff_read_the_audit_in_the_admin_and_cannot_change_it(self, client, staff, partner):
        site_post(client, "executive", "bad")
        attempt = AccessAttempt.objects.get()
        client.force_login(staff)

        for url in ["/admin/axes/accessattempt/", "/admin/axes/accesslog/", "/admin/axes/accessfailurelog/"]:
            assert client.get(url).status_code == 200, url
        detail = client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/")
        assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
        assert client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
        assert AccessAttempt.objects.exists()

        client.force_login(partner)
        assert client.get("/admin/axes/accessattempt/").status_code == 302  # not admin staff: to the sign-in


class TestTokens:
    def test_a_token_expires(self, planner, settings):
        token = token_post("planner-t", PASSWORD).json()["token"]
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/phases/").status_code == 200

        Token.objects.filter(key=token).update(
            created=timezone.now() - datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS, seconds=1)
        )

        expired = api.get("/api/v1/phases/")
        assert expired.status_code == 401
        assert expired.json()["detail"] == "This token has expired. Ask for a new one with POST /api/v1/auth/token/."
        fresh = token_post("planner-t", PASSWORD).json()["token"]
        assert fresh != token
        api.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
        assert api.get("/api/v1/phases/").status_code == 200

    def test_an_expired_token_is_replaced_when_asked_for(self, planner, settings):
        first = token_post("planner-t", PASSWORD).json()["token"]
        assert token_post("planner-t", PASSWORD).json()["token"] == first  # still valid: the same
        Token.objects.update(created=timezone.now() - datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS + 1))
        assert token_post("planner-t", PASSWORD).json()["token"] != first

    def test_the_caller_revokes_its_token(self, planner, partner):
        token = token_post("planner-t", PASSWORD).json()["token"]
        other = Token.objects.create(user=partner)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        assert api.delete(TOKEN_URL).status_code == 204

        assert api.get("/api/v1/phases/").status_code == 401
        assert list(Token.objects.all()) == [other]
        assert APIClient().delete(TOKEN_URL).status_code == 401

    def test_the_token_endpoint_takes_json_only(self, planner):
        response = APIClient().post(TOKEN_URL, {"username": "planner-t", "password": PASSWORD}, format="multipart")
        assert response.status_code == 415

    def test_missing_fields_are_named(self, planner):
        response = APIClient().post(TOKEN_URL, {"username": "planner-t"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"password": ["This field is required."]}

    def test_the_schema_documents_the_answers_and_json_only(self, client):
        operation = client.get("/api/schema/?format=json").json()["paths"][TOKEN_URL]
        post = operation["post"]
        assert set(post["responses"]) == {"200", "400", "429"}
        assert list(post["requestBody"]["content"]) == ["application/json"]
        assert "204" in operation["delete"]["responses"]


class TestPasswords:
    def test_every_role_changes_its_password_and_its_tokens_go(self, client, users):
        for role, user in users.items():
            token = Token.objects.create(user=user)
            client.force_login(user)
            page = client.get("/accounts/password_change/")
            assert page.status_code == 200, role
            assert 'href="/accounts/password_change/"' in page.content.decode()  # linked from the header

            response = client.post(
                "/accounts/password_change/",
                {"old_password": PASSWORD, "new_password1": "a-new-pass-9876", "new_password2": "a-new-pass-9876"},
            )

            assert response.status_code == 302 and response["Location"] == "/accounts/password_change/done/", role
            assert client.get("/accounts/password_change/done/").status_code == 200
            assert not Token.objects.filter(pk=token.pk).exists(), role
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            assert api.get("/api/v1/phases/").status_code == 401
            client.post("/accounts/logout/")

    def test_a_wrong_current_password_is_refused_on_its_field(self, client, partner):
        client.force_login(partner)
        response = client.post(
            "/accounts/password_change/",
            {"old_password": "nope", "new_password1": "a-new-pass-9876", "new_password2": "a-new-pass-9876"},
        )
        assert response.status_code == 200
        assert re.search(
            r'id="id_old_password_error"[^>]*><p>Your old password was entered incorrectly', response.content.decode()
        )

    def test_staff_change_their_password_in_the_admin_too(self, client, staff):
        token = Token.objects.create(user=staff)
        client.force_login(staff)
        assert client.get("/admin/password_change/").status_code == 200
        response = client.post(
            "/admin/password_change/",
            {"old_password": PASSWORD, "new_password1": "a-new-pass-9876", "new_password2": "a-new-pass-9876"},
        )
        assert response.status_code == 302 and response["Location"] == "/admin/password_change/done/"
        assert "Password changed" in client.get(response["Location"]).content.decode()
        assert not Token.objects.filter(pk=token.pk).exists()

    def test_a_password_set_in_the_admin_revokes_the_tokens(self, client, partner):
        token = Token.objects.create(user=partner)
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        response = client.post(
            f"/admin/auth/user/{partner.pk}/password/",
            {"password1": "a-new-pass-9876", "password2": "a-new-pass-9876", "usable_password": "true"},
        )
        assert response.status_code == 302
        assert not Token.objects.filter(pk=token.pk).exists()

    def test_a_reset_by_e_mail_sets_the_password_lifts_the_lock_and_revokes_tokens(self, client, partner):
        token = Token.objects.create(user=partner)
        for i in range(5):
            site_post(client, "partner-t", f"bad{i}")
        assert site_post(client, "partner-t", PASSWORD).status_code == 429

        assert client.get("/accounts/password_reset/").status_code == 200  # anonymous
        response = client.post("/accounts/password_reset/", {"email": "PARTNER-T@example.org"})
        assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
        assert client.get(response["Location"]).status_code == 200
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["partner-t@example.org"]
        assert message.subject == "Reset your INNOPOLE Campus Planner password"
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

        form_page = client.get(link, follow=True)
        assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
        set_url = form_page.redirect_chain[-1][0]
        done = client.post(set_url, {"new_password1": "a-new-pass-9876", "new_password2": "a-new-pass-9876"})

        assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
        assert client.get("/accounts/reset/done/").status_code == 200
        assert not Token.objects.filter(pk=token.pk).exists()
        assert site_post(client, "partner-t", "a-new-pass-9876").status_code == 302
        # The link works once.
        client.post("/accounts/logout/")
        again = client.get(link, follow=True)
        assert "This link does not work any more" in again.content.decode()

    def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(self, client, partner):
        response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
        assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
        assert mail.outbox == []

    def test_reset_e_mails_are_capped_per_address_and_per_client_with_the_same_answer(self, client, partner, settings):
        settings.PASSWORD_RESET_LIMIT = 2
        answers = [client.post("/accounts/password_reset/", {"email": "partner-t@example.org"}) for _ in range(4)]
        assert [(a.status_code, a["Location"]) for a in answers] == [(302, "/accounts/password_reset/done/")] * 4
        assert len(mail.outbox) == 2
        # Another address from the same client is capped too: nobody floods inboxes by varying the address.
        UserFactory(username="second-t", email="second-t@example.org")
        client.post("/accounts/password_reset/", {"email": "second-t@example.org"})
        assert len(mail.outbox) == 2
        # From another client, the address whose cap is reached still gets nothing more.
        client.post("/accounts/password_reset/", {"email": "partner-t@example.org"}, REMOTE_ADDR="192.0.2.44")
        assert len(mail.outbox) == 2

    def test_the_sign_in_page_links_to_the_reset(self, client):
        assert 'href="/accounts/password_reset/"' in client.get("/accounts/login/").content.decode()


class TestAccountsInTheAdmin:
    @pytest.fixture
    def root(self, client):
        user = UserFactory(username="root", is_staff=True, is_superuser=True)
        client.force_login(user)
        return user

    def test_a_user_cannot_be_renamed_to_a_look_alike(self, client, root, staff, partner):
        response = client.post(
            f"/admin/auth/user/{partner.pk}/change/",
            {
                "username": "Ｓｔａｆｆ",
                "email": partner.email,
                "is_active": "on",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
            },
        )
        assert response.status_code == 200
        assert "This username is taken; choose another." in response.content.decode()
        partner.refresh_from_db()
        assert partner.username == "partner-t"

    def test_a_user_keeps_its_own_name_and_changes_its_case(self, client, root, partner):
        response = client.post(
            f"/admin/auth/user/{partner.pk}/change/",
            {
                "username": "Partner-T",
                "email": partner.email,
                "is_active": "on",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
            },
        )
        assert response.status_code == 302
        partner.refresh_from_db()
        assert partner.username == "Partner-T"

    def test_a_look_alike_cannot_be_added(self, client, root):
        UserFactory(username="strasse")
        # Django's own check compares upper-cased forms, which keep `ß`; the case-folded key catches it.
        response = client.post(
            "/admin/auth/user/add/",
            {"username": "Straße", "usable_password": "false", "password1": "", "password2": ""},
        )
        assert response.status_code == 200
        assert "This username is taken; choose another." in response.content.decode()
        assert list(
            get_user_model().objects.filter(username__istartswith="stra").values_list("username", flat=True)
        ) == ["strasse"]
