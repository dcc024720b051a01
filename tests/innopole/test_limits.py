"""Request bodies over their route's limit are refused with 413 before they are read (nothing reaches the upload
handlers, so nothing is spooled to the temporary folder), and uploaded files are never served from MEDIA_URL."""

import importlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client, override_settings
from django.urls import clear_url_caches

from partners import services
from partners.models import Attachment
from tests.factories import EOIFactory, partner_user

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
BOUNDARY = "limits-test-boundary"
RECEIVED: list[int] = []


class RecordingUploadHandler(TemporaryFileUploadHandler):
    """Django's handler that spools uploads to the temporary folder, noting every chunk it is given."""

    def receive_data_chunk(self, raw_data, start):
        RECEIVED.append(len(raw_data))
        return super().receive_data_chunk(raw_data, start)


@pytest.fixture(autouse=True)
def recording_uploads(settings):
    settings.FILE_UPLOAD_HANDLERS = ["tests.innopole.test_limits.RecordingUploadHandler"]
    RECEIVED.clear()
    return RECEIVED


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, content) in files.items():
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_multipart(client, url: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]], **extra):
    return client.post(
        url, data=multipart(fields, files), content_type=f"multipart/form-data; boundary={BOUNDARY}", **extra
    )


class TestOversizedBodies:
    def test_a_20_mb_multipart_sign_in_is_refused_unread(self, recording_uploads):
        client = Client(enforce_csrf_checks=True)
        client.get("/accounts/login/")
        fields = {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, "username": "staff", "password": "x"}

        response = post_multipart(client, "/accounts/login/", fields, {"junk": ("big.bin", b"\x00" * 20 * MB)})

        assert response.status_code == 413
        page = response.content.decode()
        assert response["Content-Type"].startswith("text/html")
        assert "The request is 20.0\xa0MB; at most 8.0\xa0KB can be sent here." in page
        assert recording_uploads == []

    def test_a_20_mb_multipart_token_request_is_refused_unread_as_json(self, recording_uploads):
        response = post_multipart(
            Client(), "/api/v1/auth/token/", {"username": "staff", "password": "x"}, {"junk": ("b", b"\0" * 20 * MB)}
        )

        assert response.status_code == 413
        assert response.json() == {
            "detail": "The request is 20.0\xa0MB; at most 8.0\xa0KB can be sent here.",
            "code": "request_too_large",
        }
        assert recording_uploads == []

    def test_a_get_only_page_refuses_a_large_body_too(self, recording_uploads):
        response = post_multipart(Client(), "/portal/privacy/", {}, {"junk": ("big.bin", b"\x00" * MB)})

        assert response.status_code == 413
        assert recording_uploads == []

    def test_an_api_write_over_the_data_limit_is_refused(self, api):
        geometry = {"type": "Polygon", "coordinates": [[[114.0, 22.5]] * 250_000]}
        response = api.post("/api/v1/parcels/", {"code": "BIG", "geometry": geometry}, format="json")

        assert response.status_code == 413
        assert response.json()["detail"].endswith("at most 2.5\xa0MB can be sent here.")

    def test_small_bodies_pass(self, client, planner):
        response = client.post("/accounts/login/", {"username": "planner-t", "password": "secret-pass-123"})
        assert response.status_code == 302

        credentials = {"username": "planner-t", "password": "secret-pass-123"}
        response = Client().post("/api/v1/auth/token/", credentials, content_type="application/json")
        assert response.status_code == 200 and response.json()["token"]

    def test_a_sign_in_just_over_its_limit_is_refused(self, client, planner):
        response = client.post("/accounts/login/", {"username": "planner-t", "password": "x" * 8 * 1024})
        assert response.status_code == 413

    def test_a_chunked_body_without_a_length_is_refused(self):
        response = Client().post(
            "/api/v1/auth/token/",
            data=b'{"username": "planner-t", "password": "x"}',
            content_type="application/json",
            CONTENT_LENGTH="",
            HTTP_TRANSFER_ENCODING="chunked",
        )

        assert response.status_code == 411
        assert response.json()["code"] == "length_required"

    @override_settings(REQUEST_BODY_LIMIT_BYTES=1024)
    def test_the_limits_are_settings(self, client):
        assert client.post("/portal/privacy/", {"note": "x" * 2000}).status_code == 413


class TestAttachmentUploads:
    @pytest.fixture
    def eoi(self):
        return EOIFactory()

    @pytest.fixture
    def partner_client(self, client, eoi):
        client.force_login(partner_user(eoi.organisation))
        return client

    def test_an_11_mb_attachment_is_refused_unread_with_a_clear_message(self, partner_client, eoi, recording_uploads):
        content = PDF + b"\x00" * (11 * MB - len(PDF))
        response = post_multipart(
            partner_client,
            f"/portal/eois/{eoi.pk}/attachments/",
            {},
            {"file": ("big.pdf", content)},
            HTTP_REFERER=f"http://testserver/portal/eois/{eoi.pk}/",
        )

        assert response.status_code == 413
        page = response.content.decode()
        assert "The request is 11.0\xa0MB; at most 10.2\xa0MB can be sent here." in page
        assert "A file can be at most 10.0\xa0MB." in page
        assert f'href="http://testserver/portal/eois/{eoi.pk}/"' in page
        assert recording_uploads == []
        assert not Attachment.objects.exists()

    def test_an_attachment_of_exactly_the_file_limit_is_still_accepted(self, partner_client, eoi):
        content = PDF + b"\x00" * (10 * MB - len(PDF))
        url = f"/portal/eois/{eoi.pk}/attachments/"
        response = post_multipart(partner_client, url, {}, {"file": ("a.pdf", content)})

        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        assert eoi.attachments.get().size_bytes == 10 * MB

    def test_a_refused_upload_lands_on_the_eoi_page_with_the_reason(self, partner_client, eoi):
        response = post_multipart(
            partner_client, f"/portal/eois/{eoi.pk}/attachments/", {}, {"file": ("notes.pdf", b"plain text")}
        )

        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        page = partner_client.get(response["Location"]).content.decode()
        assert "notes.pdf was not attached: The file&#x27;s content is not one of the allowed types" in page
        assert not eoi.attachments.exists()

    def test_an_upload_with_no_file_lands_on_the_eoi_page(self, partner_client, eoi):
        response = partner_client.post(f"/portal/eois/{eoi.pk}/attachments/", {})

        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        assert "Choose a file to attach." in partner_client.get(response["Location"]).content.decode()


@pytest.fixture
def make_run_media(tmp_path):
    """Files stored on disk under MEDIA_ROOT and the URLconf built with DEBUG on, as `make run` has them; put back
    as they were afterwards."""
    import innopole.urls

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(DEBUG=True, MEDIA_ROOT=tmp_path, STORAGES=storages):
        importlib.reload(innopole.urls)
        clear_url_caches()
        yield tmp_path
    importlib.reload(innopole.urls)
    clear_url_caches()


def test_stored_files_are_not_served_from_media_url_even_with_debug_on(make_run_media, client):
    eoi = EOIFactory()
    attachment = services.attachment_add(eoi=eoi, actor=None, upload=SimpleUploadedFile("plan.pdf", PDF))
    assert (make_run_media / attachment.file.name).exists()
    client.force_login(partner_user(eoi.organisation))

    assert client.get(f"/media/{attachment.file.name}").status_code == 404
    # The download view, which checks who may have the file, is the way to it.
    assert client.get(f"/portal/attachments/{attachment.pk}/download/").status_code == 200
