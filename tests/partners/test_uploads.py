"""Attachments are checked by content (Office files by their archive's layout and size, never unpacked), limited in
size and number per EOI, stored under generated names, and downloaded under the checked type's extension."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import services
from partners.models import Attachment, ExpressionOfInterest
from partners.uploads import MAX_BYTES, clean_name, download_name
from tests.factories import EOIFactory, partner_user

pytestmark = pytest.mark.django_db

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
WINDOWS_EXE = b"MZ\x90\x00" + b"\x00" * 64
MAIN_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "docm": "application/vnd.ms-word.document.macroEnabled.main+xml",
}


def office_members(kind: str) -> dict[str, bytes]:
    """The parts Word or Excel writes for a small document (the layout only; the XML is abbreviated)."""
    main_type = MAIN_TYPES[kind]
    members = {
        "[Content_Types].xml": f'<Types><Override PartName="/main" ContentType="{main_type}"/></Types>'.encode(),
        "_rels/.rels": b"<Relationships/>",
        "docProps/core.xml": b"<coreProperties/>",
        "docProps/app.xml": b"<Properties/>",
    }
    if kind in ("docx", "docm"):
        members |= {
            "word/document.xml": b"<w:document/>",
            "word/_rels/document.xml.rels": b"<Relationships/>",
            "word/styles.xml": b"<w:styles/>",
            "word/theme/theme1.xml": b"<a:theme/>",
            "word/media/image1.png": PNG,
        }
    else:
        members |= {
            "xl/workbook.xml": b"<workbook/>",
            "xl/_rels/workbook.xml.rels": b"<Relationships/>",
            "xl/worksheets/sheet1.xml": b"<worksheet/>",
            "xl/styles.xml": b"<styleSheet/>",
            "xl/printerSettings/printerSettings1.bin": b"\x00" * 32,
        }
    return members


def office(kind: str, *, extra: dict[str, bytes] | None = None, leave_out: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (office_members(kind) | (extra or {})).items():
            if name not in leave_out:
                archive.writestr(name, content)
    return buffer.getvalue()


def zip_bomb(kind: str, *, member: str, size: int) -> bytes:
    """A real Office layout whose `member` is `size` bytes of zeros: a few hundred KB on the wire."""
    buffer = io.BytesIO()
    zeros = b"\x00" * (1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in office_members(kind).items():
            if name != member:
                archive.writestr(name, content)
        with archive.open(member, "w", force_zip64=True) as stream:
            for _ in range(size // len(zeros)):
                stream.write(zeros)
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
    ids=["pdf", "png", "jpeg", "docx", "xlsx", "no-extension"],  # the zips carry the time they were made
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
    ids=["elf", "windows-exe", "plain-zip", "text", "html"],
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


# --- Office files: layout, expansion, content types --------------------------------------------------------------


def refusal(name: str, content: bytes) -> str:
    eoi = EOIFactory()
    with pytest.raises(ValidationError) as refused:
        attach(eoi, name, content)
    assert not Attachment.objects.exists()
    return " ".join(refused.value.message_dict["file"])


def test_a_zip_bomb_is_refused_from_the_archive_directory_without_unpacking_it(monkeypatch):
    bomb = zip_bomb("docx", member="word/document.xml", size=256 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    opened = []
    open_member = zipfile.ZipFile.open

    def spy(archive, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return open_member(archive, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)

    message = refusal("bomb.docx", bomb)

    assert message == "The archive expands to 256.0\xa0MB; at most 100.0\xa0MB is allowed."
    assert opened == []  # decided from the central directory: no member was decompressed


def test_a_member_that_expands_too_much_is_refused_even_when_the_total_is_small():
    message = refusal("report.docx", zip_bomb("docx", member="word/media/image2.png", size=20 * 1024 * 1024))
    assert message.startswith("The archive member word/media/image2.png expands ")
    assert "(to 20.0\xa0MB); at most 200 times is allowed." in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"payload.exe": ELF}, "The archive holds payload.exe, which a Word or Excel document does not have."),
        ({"index.html": b"<script>alert(1)</script>"}, "The archive holds index.html, which a Word or Excel"),
        ({"word/payload.exe": WINDOWS_EXE}, "The archive holds word/payload.exe, a kind of file a Word or Excel"),
        ({"word/vbaProject.bin": b"\x00" * 64}, "The archive holds word/vbaProject.bin, a kind of file"),
        ({"word/embeddings/oleObject1.bin": b"\x00" * 64}, "holds word/embeddings/oleObject1.bin, a kind of file"),
        ({"xl/workbook.xml": b"<x/>"}, "The archive holds xl/workbook.xml, which a Word or Excel"),
        ({"../evil.xml": b"<x/>"}, "The archive holds a file with an unsafe path (../evil.xml)."),
        ({"word/../../evil.xml": b"<x/>"}, "unsafe path (word/../../evil.xml)"),
        ({"/etc/cron.d/evil": b"x"}, "unsafe path (/etc/cron.d/evil)"),
        ({"word\\..\\evil.xml": b"x"}, "unsafe path"),
    ],
)
def test_a_docx_carrying_anything_outside_the_ooxml_layout_is_refused(extra, expected):
    assert expected in refusal("trojan.docx", office("docx", extra=extra))


def test_a_fake_xlsx_of_two_marker_names_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<x/>")

    assert refusal("fake.xlsx", buffer.getvalue()) == (
        "This is not a complete XLSX file: it lacks _rels/.rels, xl/_rels/workbook.xml.rels."
    )


def test_a_macro_enabled_document_named_docx_is_refused():
    message = refusal("letter.docx", office("docm"))
    assert message == "The archive does not declare itself a DOCX document (a macro-enabled file, perhaps)."


def test_too_many_archive_members_are_refused(settings):
    settings.OFFICE_MAX_MEMBERS = 12
    extra = {f"word/media/image{n}.png": PNG for n in range(2, 10)}
    assert refusal("many.docx", office("docx", extra=extra)) == (
        "The archive holds 17 files; a DOCX file may hold at most 12."
    )


def test_an_embedded_chart_and_folder_entries_are_accepted():
    extra = {"word/embeddings/Microsoft_Excel_Worksheet.xlsx": office("xlsx"), "word/media/": b"", "customXml/": b""}
    assert attach(EOIFactory(), "with-chart.docx", office("docx", extra=extra)).content_type == DOCX


# --- quota per EOI ----------------------------------------------------------------------------------------------


def test_an_eoi_takes_at_most_the_configured_number_of_files(settings):
    settings.ATTACHMENTS_PER_EOI = 2
    eoi = EOIFactory()
    attach(eoi, "one.pdf", PDF)
    attach(eoi, "two.pdf", PDF)

    with pytest.raises(ValidationError) as refused:
        attach(eoi, "three.pdf", PDF)

    assert refused.value.message_dict["file"] == [
        "This EOI already has 2 files, the most it may have. Remove one to add another."
    ]
    assert eoi.attachments.count() == 2
    # Another EOI has its own quota.
    assert attach(EOIFactory(organisation=eoi.organisation), "three.pdf", PDF)


def test_an_eoi_s_files_stay_within_the_configured_total_size(settings):
    settings.ATTACHMENTS_TOTAL_BYTES_PER_EOI = 3000
    eoi = EOIFactory()
    attach(eoi, "first.pdf", PDF + b"0" * (2000 - len(PDF)))

    with pytest.raises(ValidationError) as refused:
        attach(eoi, "second.pdf", PDF + b"0" * (1001 - len(PDF)))

    assert refused.value.message_dict["file"] == [
        "With this file the EOI's files would total 2.9\xa0KB; at most 2.9\xa0KB is allowed per EOI."
    ]
    assert attach(eoi, "second.pdf", PDF + b"0" * (1000 - len(PDF))).size_bytes == 1000


# --- the name a download is saved under --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "extension", "name"),
    [
        ("invoice.html", ".pdf", "invoice.html.pdf"),
        ("plan.pdf", ".pdf", "plan.pdf"),
        ("PLAN.PDF", ".pdf", "PLAN.PDF"),
        ("photo.jpeg", ".jpg", "photo.jpeg"),
        ("photo.png", ".jpg", "photo.png.jpg"),
        ("no-extension", ".docx", "no-extension.docx"),
        ("x" * 200, ".xlsx", "x" * 195 + ".xlsx"),
    ],
)
def test_download_name_ends_in_the_checked_type_s_extension(label, extension, name):
    assert download_name(label, extension) == name


def test_a_pdf_html_polyglot_uploaded_as_html_downloads_as_pdf(client):
    polyglot = b"%PDF-1.4\n<html><body><script>alert(document.domain)</script></body></html>\n%%EOF\n"
    eoi = EOIFactory()
    attachment = attach(eoi, "invoice.html", polyglot)
    client.force_login(partner_user(eoi.organisation))

    response = client.get(f"/portal/attachments/{attachment.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice.html.pdf"'
    assert b"".join(response.streaming_content) == polyglot
