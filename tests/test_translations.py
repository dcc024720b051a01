"""The Traditional Chinese catalogue is complete, and the compiled catalogue the app loads matches it."""

import shutil
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "locale" / "zh_Hant" / "LC_MESSAGES"

pytestmark = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed: apt-get install gettext"
)


def test_every_message_is_translated_and_none_is_fuzzy():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(LOCALE / "django.po")],
        capture_output=True,
        text=True,
        check=True,
    )
    statistics = result.stderr.strip()
    assert "translated messages" in statistics
    assert "fuzzy" not in statistics and "untranslated" not in statistics, statistics


def test_the_compiled_catalogue_is_up_to_date(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(LOCALE / "django.po")], check=True)
    assert fresh.read_bytes() == (LOCALE / "django.mo").read_bytes(), "run `make messages` and commit django.mo"
