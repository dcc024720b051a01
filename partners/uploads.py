"""Checks an uploaded file by its content, not its name: PDF, DOCX, XLSX, PNG or JPEG, at most 10 MB.

The file's bytes decide its type (`filetype` reads the signature; Office files are also opened as ZIP archives
and must hold the parts a Word or Excel document has). The uploader's file name is kept only as a label,
stripped of any path, and the file is stored under a generated name.
"""

import hashlib
import posixpath
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

MAX_BYTES = 10 * 1024 * 1024

# content type → (extension, what the user is told)
ALLOWED = {
    "application/pdf": (".pdf", "PDF"),
    "image/png": (".png", "PNG"),
    "image/jpeg": (".jpg", "JPEG"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx", "DOCX"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx", "XLSX"),
}
OFFICE_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word/document.xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xl/workbook.xml",
}


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


def _office_type(upload: UploadedFile) -> str | None:
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for content_type, part in OFFICE_PARTS.items():
        if part in names:
            return content_type
    return None


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Raise ValidationError unless the upload is an allowed type by content and within the size limit."""
    allowed = ", ".join(label for _ext, label in ALLOWED.values())
    if upload.size is None or upload.size == 0:
        raise ValidationError(_("The file is empty."))
    if upload.size > MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(MAX_BYTES)}
        )
    upload.seek(0)
    head = upload.read(8192)
    kind = filetype.guess(head)
    content_type = kind.mime if kind else None
    if content_type in ("application/zip", *OFFICE_PARTS) or (head[:4] == b"PK\x03\x04"):
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
