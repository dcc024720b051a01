"""The portal's pages on one row (an EOI, its files, an invitation) answer 404 for another organisation's row,
exactly as for a missing one, and change nothing: the rule of tests/scoped.py applied to each."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from partners import services
from partners.models import Invitation
from tests.factories import EOIFactory, ParcelFactory, partner_user
from tests.scoped import ScopedPortalRows

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def draft(organisation):
    return EOIFactory(organisation=organisation, preferred_phase=ParcelFactory().phase)


class TestPortalEOIs(ScopedPortalRows):
    urls = {
        "/portal/eois/{pk}/": ("get",),
        "/portal/eois/{pk}/edit/": ("get", "post"),
        "/portal/eois/{pk}/withdraw/": ("get", "post"),
        "/portal/eois/{pk}/delete/": ("get", "post"),
        "/portal/eois/{pk}/attachments/": ("post",),
    }
    reach = ("get", "/portal/eois/{pk}/", 200)

    def make(self, organisation):
        return draft(organisation)


class TestPortalAttachments(ScopedPortalRows):
    urls = {"/portal/attachments/{pk}/download/": ("get",), "/portal/attachments/{pk}/delete/": ("post",)}
    reach = ("get", "/portal/attachments/{pk}/download/", 200)

    def make(self, organisation):
        upload = SimpleUploadedFile("plan.png", PNG, content_type="image/png")
        return services.attachment_add(eoi=draft(organisation), actor=partner_user(organisation), upload=upload)


class TestPortalInvitations(ScopedPortalRows):
    urls = {"/portal/invitations/{pk}/revoke/": ("post",), "/portal/invitations/{pk}/resend/": ("post",)}
    reach = ("post", "/portal/invitations/{pk}/resend/", 302)

    def make(self, organisation):
        return Invitation.objects.create(
            organisation=organisation,
            email=f"invitee@{organisation.code}.example.org",
            expires_at=timezone.now() + datetime.timedelta(days=3),
        )
