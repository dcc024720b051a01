"""Attachments are checked by content, limited in size, and stored under generated names."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import services
from partners.models import Attachment, ExpressionOfInterest
from partners.uploads import MAX_BYTES, clean_name
from tests.factories import EOIFactory, partner_user

pytestmark = pytest.mark.django_db

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
WINDOWS_EXE = b"MZ\x90\x00" + b"\x00" * 64


def office(kind: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml" if kind == "docx" else "xl/workbook.xml", "<x/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.exe", "MZ")
    return buffer.getvalue()


def attach(eoi, name: str, content: bytes):
    return services.attachment_add(
        eoi=eoi, actor=partner_user(eoi.organisation), upload=SimpleUploadedFile(name, content)
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("plan.pdf", PDF, "application/pdf", ".pdf"),
        ("site.png", PNG, "image/png", ".png"),
        ("photo.jpeg", JPEG, "image/jpeg", ".jpg"),
        (
            "letter.docx",
            office("docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
        ),
        ("budget.xlsx", office("xlsx"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
        ("no-extension", PDF, "application/pdf", ".pdf"),
    ],
)
def test_allowed_types_are_recognised_by_content(name, content, content_type, extension):
    attachment = attach(EOIFactory(), name, content)

    assert (attachment.content_type, attachment.extension, attachment.original_name) == (content_type, extension, name)
    assert attachment.file.name.endswith(extension)
    assert attachment.size_bytes == len(content)
    assert attachment.file.read() == content


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("report.pdf", ELF),
        ("report.pdf", WINDOWS_EXE),
        ("archive.docx", plain_zip()),
        ("notes.pdf", b"just some text pretending to be a PDF"),
        ("page.pdf", b"<html><script>alert(1)</script></html>"),
    ],
)
def test_other_content_is_refused_whatever_the_name_says(name, content):
    eoi = EOIFactory()
    with pytest.raises(ValidationError) as refused:
        attach(eoi, name, content)
    assert "not one of the allowed types" in refused.value.message_dict["file"][0]
    assert not Attachment.objects.exists()


def test_files_over_10_mb_are_refused():
    eoi = EOIFactory()
    content = PDF + b"0" * (MAX_BYTES + 1 - len(PDF))
    with pytest.raises(ValidationError) as refused:
        attach(eoi, "big.pdf", content)
    assert "the limit is 10.0\xa0MB" in refused.value.message_dict["file"][0]
    assert not Attachment.objects.exists()


def test_a_file_of_exactly_10_mb_is_accepted():
    content = PDF + b"0" * (MAX_BYTES - len(PDF))
    assert attach(EOIFactory(), "big.pdf", content).size_bytes == MAX_BYTES


def test_empty_files_are_refused():
    with pytest.raises(ValidationError, match="empty"):
        attach(EOIFactory(), "empty.pdf", b"")


def test_path_traversal_names_are_labels_only():
    attachment = attach(EOIFactory(), "../../etc/passwd.pdf", PDF)

    assert attachment.original_name == "passwd.pdf"
    assert ".." not in attachment.file.name and "passwd" not in attachment.file.name
    assert attachment.file.name.startswith(f"eoi-attachments/{attachment.eoi.organisation_id}/")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("..\\..\\windows\\win.ini.pdf", "win.ini.pdf"),
        ("/abs/path/x.pdf", "x.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("bad\x00name\r\n.pdf", "badname.pdf"),
        ("", "attachment"),
        ("規劃圖.pdf", "規劃圖.pdf"),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_decided_eois_take_no_more_files():
    eoi = EOIFactory(status=ExpressionOfInterest.Status.DECLINED)
    with pytest.raises(ValidationError, match="cannot be added"):
        attach(eoi, "late.pdf", PDF)


def test_another_organisation_cannot_attach():
    from django.core.exceptions import PermissionDenied

    from tests.factories import OrganisationFactory

    eoi = EOIFactory()
    with pytest.raises(PermissionDenied):
        services.attachment_add(
            eoi=eoi, actor=partner_user(OrganisationFactory()), upload=SimpleUploadedFile("x.pdf", PDF)
        )
