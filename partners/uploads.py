"""Checks an uploaded file by its content, not its name: PDF, DOCX, XLSX, PNG or JPEG, within the size limit.

The file's bytes decide its type (`filetype` reads the signature). Office files are ZIP archives: they are checked
by reading the archive's directory only, never by unpacking it — the parts a Word or Excel document must have, every
member inside the OOXML layout (no executables, pages, scripts or macros, no absolute or `..` paths), and what the
archive would expand to, in total and per member (a zip bomb is refused). The uploader's file name is kept only as
a label, stripped of any path; the file is stored under a generated name, and downloaded under the label with the
checked type's extension (`download_name`).
"""

import hashlib
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# The default of settings.ATTACHMENT_MAX_BYTES; the setting decides.
MAX_BYTES = 10 * 1024 * 1024

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# content type → (extension, what the user is told)
ALLOWED = {
    "application/pdf": (".pdf", "PDF"),
    "image/png": (".png", "PNG"),
    "image/jpeg": (".jpg", "JPEG"),
    DOCX: (".docx", "DOCX"),
    XLSX: (".xlsx", "XLSX"),
}
# Other spellings of a type's extension that a download name may keep.
SAME_EXTENSION = {".jpg": {".jpeg", ".jpe"}}


@dataclass(frozen=True)
class OfficeLayout:
    folder: str  # the application's folder in the archive
    required: tuple[str, ...]  # parts every such document has
    main_type: str  # the main part's content type, declared in [Content_Types].xml


OFFICE = {
    DOCX: OfficeLayout(
        folder="word",
        required=("[Content_Types].xml", "_rels/.rels", "word/document.xml"),
        main_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    XLSX: OfficeLayout(
        folder="xl",
        required=("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"),
        main_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
}
# Folders every OOXML package may have besides the application's own.
PACKAGE_FOLDERS = {"_rels", "docProps", "customXml", "docMetadata"}
# What an OOXML part may be: XML and relationships, pictures, embedded fonts, other Office documents (embedded
# charts). Binary parts (`.bin`: OLE objects, VBA macros) are refused, except the printer settings Excel writes.
PART_EXTENSIONS = {
    ".xml",
    ".rels",
    ".vml",
    ".png",
    ".jpeg",
    ".jpg",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".emf",
    ".wmf",
    ".svg",
    ".odttf",
    ".fntdata",
    ".docx",
    ".xlsx",
}
PRINTER_SETTINGS = re.compile(r"^(word|xl)/printerSettings/printerSettings\d+\.bin$")
# A member this small may compress very well without harm; the ratio check is for what expands a lot.
RATIO_CHECK_FROM_BYTES = 1024 * 1024
CONTENT_TYPES_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    extension: str
    original_name: str
    size_bytes: int
    sha256: str


def clean_name(name: str) -> str:
    """The file name as a label: no directories, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/")
    name = posixpath.basename(name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return (name or _("attachment"))[:200]


def download_name(label: str, extension: str) -> str:
    """The name a download is saved under: the label, ending in the checked type's extension.

    The label keeps its own extension when it already names the type (`plan.PDF`); otherwise the type's extension
    is added (`invoice.html` checked as PDF → `invoice.html.pdf`), so the reader's computer opens the file as what
    was checked, never as what the uploader named it.
    """
    label = clean_name(label)
    current = posixpath.splitext(label)[1].lower()
    if current == extension or current in SAME_EXTENSION.get(extension, ()):
        return label
    return f"{label[: 200 - len(extension)]}{extension}"


def _shown(name: str) -> str:
    """An archive member's name as it may appear in a message: printable, at most 100 characters."""
    return "".join(ch if unicodedata.category(ch)[0] != "C" else "?" for ch in name)[:100]


def _member_refusal(name: str, folder: str) -> str | None:
    """Why an archive member is outside the OOXML layout of a document kept in `folder`, or None."""
    if (
        name.startswith("/")
        or "\\" in name
        or ":" in name
        or any(part in ("..", ".") for part in name.split("/"))
        or any(unicodedata.category(ch)[0] == "C" for ch in name)
    ):
        return _("The archive holds a file with an unsafe path (%(name)s).")
    if name == "[Content_Types].xml":
        return None
    top, slash, _rest = name.partition("/")
    if not slash or top not in PACKAGE_FOLDERS | {folder}:
        return _("The archive holds %(name)s, which a Word or Excel document does not have.")
    if name.endswith("/"):  # a folder entry inside the layout
        return None
    base = posixpath.basename(name)
    extension = base[base.rfind(".") :].lower() if "." in base else ""  # `.rels` is all extension
    if extension not in PART_EXTENSIONS and not PRINTER_SETTINGS.match(name):
        return _("The archive holds %(name)s, a kind of file a Word or Excel document may not carry.")
    return None


def _office_type(upload: UploadedFile) -> str | None:
    """DOCX or XLSX when the archive is one, None when it is not an Office document at all.

    Raises ValidationError, naming what is wrong, for an Office document that is malformed or hostile. Reads the
    archive's central directory and [Content_Types].xml only; nothing else is decompressed.
    """
    upload.seek(0)
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    with archive:
        members = archive.infolist()
        names = {member.filename for member in members}
        content_type = next(
            (kind for kind, layout in OFFICE.items() if "[Content_Types].xml" in names and layout.required[2] in names),
            None,
        )
        if content_type is None:
            return None
        layout = OFFICE[content_type]
        label = ALLOWED[content_type][1]
        if len(members) > settings.OFFICE_MAX_MEMBERS:
            raise ValidationError(
                _("The archive holds %(count)s files; a %(type)s file may hold at most %(limit)s.")
                % {"count": len(members), "type": label, "limit": settings.OFFICE_MAX_MEMBERS}
            )
        if len(names) != len(members):
            raise ValidationError(_("The archive holds the same file name twice."))
        missing = [part for part in layout.required if part not in names]
        if missing:
            raise ValidationError(
                _("This is not a complete %(type)s file: it lacks %(parts)s.")
                % {"type": label, "parts": ", ".join(missing)}
            )
        for member in members:
            refusal = _member_refusal(member.filename, layout.folder)
            if refusal:
                raise ValidationError(refusal % {"name": _shown(member.filename)})
            if member.flag_bits & 0x1:
                raise ValidationError(
                    _("The archive member %(name)s is encrypted.") % {"name": _shown(member.filename)}
                )
        expanded = sum(member.file_size for member in members)
        if expanded > settings.OFFICE_MAX_EXPANDED_BYTES:
            raise ValidationError(
                _("The archive expands to %(size)s; at most %(limit)s is allowed.")
                % {"size": filesizeformat(expanded), "limit": filesizeformat(settings.OFFICE_MAX_EXPANDED_BYTES)}
            )
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size >= RATIO_CHECK_FROM_BYTES and ratio > settings.OFFICE_MAX_COMPRESSION_RATIO:
                raise ValidationError(
                    _(
                        "The archive member %(name)s expands %(ratio)s times (to %(size)s); at most %(limit)s "
                        "times is allowed."
                    )
                    % {
                        "name": _shown(member.filename),
                        "ratio": int(ratio),
                        "size": filesizeformat(member.file_size),
                        "limit": settings.OFFICE_MAX_COMPRESSION_RATIO,
                    }
                )
        types = archive.getinfo("[Content_Types].xml")
        if types.file_size > CONTENT_TYPES_MAX_BYTES:
            raise ValidationError(_("The archive's list of content types is implausibly large."))
        try:
            declared = archive.read(types)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
            raise ValidationError(_("The archive is damaged and cannot be read.")) from None
        if layout.main_type.encode() not in declared:
            raise ValidationError(
                _("The archive does not declare itself a %(type)s document (a macro-enabled file, perhaps).")
                % {"type": label}
            )
    return content_type


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Raise ValidationError unless the upload is an allowed type by content and within the size limit."""
    allowed = ", ".join(label for _ext, label in ALLOWED.values())
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size is None or upload.size == 0:
        raise ValidationError(_("The file is empty."))
    if upload.size > limit:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
        )
    upload.seek(0)
    head = upload.read(8192)
    kind = filetype.guess(head)
    content_type = kind.mime if kind else None
    if content_type in ("application/zip", *OFFICE) or (head[:4] == b"PK\x03\x04"):
        content_type = _office_type(upload)
    if content_type not in ALLOWED:
        raise ValidationError(
            _("The file's content is not one of the allowed types (%(allowed)s), whatever its name says.")
            % {"allowed": allowed}
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    extension = ALLOWED[content_type][0]
    return CheckedUpload(
        content_type=content_type,
        extension=extension,
        original_name=clean_name(upload.name),
        size_bytes=upload.size,
        sha256=digest.hexdigest(),
    )
