"""The board pack's downloads: the dashboard's figures (`figures.cached_figures`) as an XLSX workbook and a CSV file.

Both are written from the structure the page and the API render, in the reader's language (the figures are cached
per language, so their labels already are), and open with the same header: title, campus, as of, language and the
figures' scope. The workbook has one sheet per section of the page, in the page's order, its tables wide (a figure
per row, a scope per column, as a board reads them); the CSV has the same figures in long form, one value a row
(`section, phase, item, value, unit`), for a script or a pivot table.

Numbers are numbers in both, rounded to two decimals as the API rounds them, so a download equals the API. Every
percentage is a number from 0 to 100 (number format `0.0`, unit %), never a fraction shown with `0.0%`: a
readiness score or a stage's probability reads the same as the pre-commitment beside it. Text that a spreadsheet
would take for a formula is prefixed with ' (`planning.exchange.neutralise`, the parcels' export's rule).
"""

import csv
import datetime
import io
import re
import unicodedata
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, get_language_info, pgettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill

from planning.exchange import neutralise
from planning.models import ScheduleItem

from .figures import FIGURES, LABELS, UNITS

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

# The page's sections, in its order: one sheet each, and the CSV's `section` column.
HEADLINE = _lazy("Headline figures")
READINESS = _lazy("Readiness")
BLOCKS = _lazy("What blocks")
PIPELINE = _lazy("Partner pipeline")
SCHEDULE = _lazy("Schedule")
GFA_BY_TYPE = _lazy("GFA by facility type")

# Number formats. Areas, counts and people whole with thousands separators; money and power to one decimal;
# percentages (0–100) to one decimal, without Excel's % format (which multiplies by 100).
WHOLE = "#,##0"
ONE_DECIMAL = "#,##0.0"
PERCENT = "0.0"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
MONTH = "yyyy-mm"
UNIT_FORMATS = {"percent": PERCENT, "HKD million": ONE_DECIMAL, "MVA": ONE_DECIMAL}

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFE8EEF4")
TITLE_FONT = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60
# Excel refuses these in a sheet's name, and names longer than 31 characters.
SHEET_NAME_REFUSES = re.compile(r"[\[\]:*?/\\]")


# --- values -----------------------------------------------------------------------------------------------------


def _number(value):
    """A figure as the API gives it (two decimals), as an int when whole; None stays None (nothing to compute)."""
    if value is None or isinstance(value, int):
        return value
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def _percent(fraction):
    """A fraction (a readiness score, a probability) as a percentage from 0 to 100."""
    return None if fraction is None else _number(Decimal(str(fraction)) * 100)


def _local(moment: datetime.datetime) -> datetime.datetime:
    """A moment in Hong Kong time without its zone: a spreadsheet's date-times have none."""
    return timezone.localtime(moment).replace(tzinfo=None) if timezone.is_aware(moment) else moment


def _text(value) -> str:
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def _yes(flag: bool) -> str:
    return _("Yes") if flag else _("No")


def _pair(what, which) -> str:
    """An item named by two parts ("EOIs by status: Submitted"), in the reader's punctuation."""
    return _("%(what)s: %(which)s") % {"what": what, "which": which}


def _unit_label(key: str) -> str:
    return str(LABELS[key][1])


def _figure_format(key: str) -> str:
    return UNIT_FORMATS.get(UNITS[key], WHOLE)


class Scope(NamedTuple):
    """The campus (phase None), or one phase: a column of the headline figures, a block of GFA by type."""

    label: str
    phase: int | None
    figures: dict
    gfa_by_type: list


def _scopes(found: dict) -> list[Scope]:
    """The campus, then each phase; filtered to a phase, only that phase (the top-level figures are its own)."""
    scopes = []
    if found["filters"]["phase"] is None:
        scopes.append(Scope(_("Campus"), None, found["figures"], found["gfa_by_type"]))
    scopes.extend(Scope(p["name"], p["number"], p["figures"], p["gfa_by_type"]) for p in found["phases"])
    return scopes


def _scope_text(found: dict) -> str:
    """What the figures cover: the whole campus, or the phase and facility type they were filtered to."""
    phase, facility_type = found["filters"]["phase"], found["filters"]["facility_type"]
    parts = []
    if phase is not None:
        name = next((p["name"] for p in found["phases"] if p["number"] == phase), phase)
        parts.append(_("Phase %(number)s (%(name)s)") % {"number": phase, "name": name})
    if facility_type:
        label = next((row["label"] for row in found["gfa_by_type"] if row["facility_type"] == facility_type), "")
        type_text = f"{label} ({facility_type})" if label else facility_type
        parts.append(_("facility type %(type)s") % {"type": type_text})
    return "; ".join(parts) if parts else _("Whole campus")


def _language_name() -> str:
    return get_language_info(get_language())["name_local"]


def _header_rows(found: dict) -> list[tuple[str, object, str]]:
    """(label, value, note) of the rows every sheet and the CSV open with, after the title."""
    if found["as_of"] is not None:
        as_of = (found["as_of"], _("as the plan stood at the end of that day"))
    else:
        as_of = (found["computed_at"], _("computed at, Hong Kong time"))
    return [
        (_("Campus"), found["campus"]["name"], ""),
        (_("As of"), *as_of),
        # In context: the site's language switch has its own "Language" (bilingual, for readers of either).
        (pgettext("board pack", "Language"), _language_name(), ""),
        (_("Figures for"), _scope_text(found), ""),
    ]


def _filename(found: dict, extension: str) -> str:
    """innopole-board-pack-<day>[-phase-<n>][-<type>]-<language>.<extension>: the day is the as-of day, or today."""
    parts = ["innopole-board-pack", (found["as_of"] or found["today"]).isoformat()]
    if found["filters"]["phase"] is not None:
        parts.append(f"phase-{found['filters']['phase']}")
    if found["filters"]["facility_type"]:
        parts.append(slugify(found["filters"]["facility_type"]))
    parts.append(get_language())
    return f"{'-'.join(parts)}.{extension}"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Figures about every partner's commitments: neither a shared cache nor the browser's keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


# --- XLSX -------------------------------------------------------------------------------------------------------


def _sheet_name(title: str) -> str:
    return SHEET_NAME_REFUSES.sub("-", title).strip("'")[:31] or "-"


def _width(value) -> int:
    """How many characters wide a cell shows: East Asian characters count two; a wrapped text, its longest line."""
    if value is None:
        return 0
    if isinstance(value, datetime.datetime):
        return 16
    if isinstance(value, datetime.date):
        return 10
    if isinstance(value, int | float):
        return len(f"{value:,.1f}")
    return max(
        sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line) for line in str(value).split("\n")
    )


class _Sheet:
    """One worksheet written top to bottom: the title and header rows, then its tables; the widest value of each
    column sets its width. The panes freeze under the header rows, or under the column headers of a sheet that is
    one table."""

    def __init__(self, book: Workbook, title, found: dict):
        self.sheet = book.create_sheet(_sheet_name(str(title)))
        self.widths: dict[int, int] = defaultdict(lambda: 8)
        cell = self.sheet.cell(row=1, column=1, value=_text(_("Board pack: %(section)s") % {"section": title}))
        cell.font = TITLE_FONT
        self.row = 2
        for label, value, note in _header_rows(found):
            # The campus's name and the scope may spill into the empty cells beside them: they set no width.
            self.line([label, value], fit_text=False)
            self.widths[1] = max(self.widths[1], _width(label) + 2)
            if note:
                self.sheet.cell(row=self.row - 1, column=3, value=_text(note))
        self.sheet.freeze_panes = f"A{self.row}"
        self.row += 1

    def line(self, values: list, formats: list | None = None, *, header: bool = False, fit_text: bool = True) -> None:
        """One row of cells; `formats` gives each column's number format (dates and date-times have a default)."""
        formats = formats or []
        for column, value in enumerate(values, start=1):
            number_format = formats[column - 1] if column <= len(formats) else None
            if number_format is None and isinstance(value, datetime.datetime):
                number_format = DATETIME
            elif number_format is None and isinstance(value, datetime.date):
                number_format = DATE
            if isinstance(value, datetime.datetime):
                value = _local(value)
            elif isinstance(value, str):
                value = _text(value)
            elif isinstance(value, Decimal | float):
                value = _number(value)
            cell = self.sheet.cell(row=self.row, column=column, value=value)
            if number_format:
                cell.number_format = number_format
            if header:
                cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            if isinstance(value, str) and ("\n" in value or _width(value) > MAX_WIDTH):
                cell.alignment = WRAP
            if fit_text or not isinstance(value, str):
                self.widths[column] = max(self.widths[column], min(_width(value) + 2, MAX_WIDTH))
        self.row += 1

    def heading(self, title, headers: list, *, freeze: bool = False) -> None:
        """A table's title (when the sheet has more than one) and its column headers (bold)."""
        if title:
            self.sheet.cell(row=self.row, column=1, value=_text(title)).font = HEADER_FONT
            self.row += 1
        self.line([str(header) for header in headers], header=True)
        if freeze:
            self.sheet.freeze_panes = f"A{self.row}"

    def table(self, title, headers: list, rows: list[list], formats: list | None = None, *, freeze=False) -> None:
        self.heading(title, headers, freeze=freeze)
        for values in rows:
            self.line(values, formats)
        self.row += 1

    def note(self, text: str) -> None:
        self.sheet.cell(row=self.row, column=1, value=_text(text))
        self.row += 2

    def finish(self) -> None:
        for column, width in self.widths.items():
            self.sheet.column_dimensions[self.sheet.cell(row=1, column=column).column_letter].width = width


def _headline_sheet(book, found):
    sheet = _Sheet(book, HEADLINE, found)
    scopes = _scopes(found)
    sheet.heading(None, [_("Figure"), _("Unit"), *(scope.label for scope in scopes)], freeze=True)
    for key in FIGURES:
        values = [str(LABELS[key][0]), _unit_label(key), *(scope.figures[key] for scope in scopes)]
        sheet.line(values, [None, None, *[_figure_format(key)] * len(scopes)])
    sheet.finish()


def _readiness_sheet(book, found):
    sheet = _Sheet(book, READINESS, found)
    phases = found["phases"]
    sheet.table(
        _("Readiness by phase"),
        [
            _("Phase"),
            _("Phase status"),
            _("Readiness"),
            _("Score (%)"),
            _("Recompute pending"),
            _("Computed at"),
            _("Top reasons"),
        ],
        [
            [
                phase["name"],
                phase["status_label"],
                phase["readiness_state_label"],
                _percent(phase["readiness_score"]),
                _yes(phase["stale"]),
                phase["readiness_computed_at"],
                "\n".join(phase["top_reasons"]),
            ]
            for phase in phases
        ],
        [None, None, None, PERCENT],
    )
    trend = found["readiness_trend"]
    days = sorted({point["day"] for line in trend for point in line["points"]})
    scores = [{point["day"]: point["score"] for point in line["points"]} for line in trend]
    sheet.table(
        _("Readiness score over the last year (%, the last of each day)"),
        [_("Day"), *(line["name"] for line in trend)],
        [[day, *(_percent(by_day.get(day)) for by_day in scores)] for day in days],
        [None, *[PERCENT] * len(trend)],
    )
    sheet.finish()


def _blocks_sheet(book, found):
    sheet = _Sheet(book, BLOCKS, found)
    rows = [
        [
            phase["name"],
            row["criterion_label"],
            row["state_label"],
            row["text"],
            "; ".join(str(obj.get("label", "")) for obj in row["objects"]),
            row["owner"],
            row["date"],
        ]
        for phase in found["phases"]
        for row in phase["blockers"]
    ]
    headers = [_("Phase"), _("Criterion"), _("State"), _("What blocks"), _("Objects"), _("Owner"), _("Date")]
    sheet.table(None, headers, rows, freeze=True)
    if not rows:
        sheet.note(_("Nothing blocks the phases shown."))
    sheet.finish()


def _pipeline_sheet(book, found):
    sheet = _Sheet(book, PIPELINE, found)
    pipeline = found["pipeline"]
    sheet.table(
        _("EOIs by status"),
        [_("Status"), _("Live"), _("EOIs"), _("GFA asked for (m²)")],
        [[row["label"], _yes(row["live"]), row["count"], row["gfa_m2"]] for row in pipeline["eois_by_status"]],
        [None, None, WHOLE, WHOLE],
    )
    sheet.table(
        _("EOIs by sector"),
        [_("Sector"), _("EOIs"), _("GFA asked for (m²)")],
        [[row["label"], row["count"], row["gfa_m2"]] for row in pipeline["eois_by_sector"]],
        [None, WHOLE, WHOLE],
    )
    if pipeline["mous_by_status"]:
        sheet.table(
            _("MoUs by status"),
            [_("Status"), _("MoUs")],
            [[row["label"], row["count"]] for row in pipeline["mous_by_status"]],
            [None, WHOLE],
        )
    else:
        sheet.note(_("MoUs name no phase or facility type: they are counted for the whole campus only."))
    sheet.table(
        _("Commitments by stage"),
        [
            _("Stage"),
            _("Probability (%)"),
            _("Commitments"),
            _("Occupancy GFA (m²)"),
            _("Weighted GFA (m²)"),
            _("Capital (HKD million)"),
            _("Weighted capital (HKD million)"),
        ],
        [
            [
                row["label"],
                _percent(row["probability"]),
                row["count"],
                row["gfa_m2"],
                row["weighted_gfa_m2"],
                row["amount_hkd_m"],
                row["weighted_amount_hkd_m"],
            ]
            for row in pipeline["commitments_by_stage"]
        ],
        [None, PERCENT, WHOLE, WHOLE, WHOLE, ONE_DECIMAL, ONE_DECIMAL],
    )
    sheet.table(
        _("New EOIs per month"),
        [_("Month"), _("EOIs")],
        [[row["month"], row["count"]] for row in pipeline["eois_per_month"]],
        [MONTH, WHOLE],
    )
    sheet.finish()


def _schedule_rows(entries: list[dict], names: dict) -> list[list]:
    return [
        [
            names.get(entry["phase"], entry["phase"]),
            entry["name"],
            str(ScheduleItem.Kind(entry["kind"]).label) if entry["kind"] in ScheduleItem.Kind.values else entry["kind"],
            entry["responsible"],
            entry["baseline_finish"],
            entry["forecast_finish"],
            entry["slip_days"],
            _yes(entry["critical"]),
        ]
        for entry in entries
    ]


def _schedule_sheet(book, found):
    sheet = _Sheet(book, SCHEDULE, found)
    names = {phase["number"]: phase["name"] for phase in found["phases"]}
    headers = [
        _("Phase"),
        _("Item"),
        _("Kind"),
        _("Responsible"),
        _("Baseline finish"),
        _("Forecast finish"),
        _("Slip (days)"),
        _("Critical path"),
    ]
    formats = [None] * 6 + [WHOLE]
    sheet.table(
        _("Milestones in the next 90 days"), headers, _schedule_rows(found["schedule"]["milestones"], names), formats
    )
    sheet.table(_("Overdue"), headers, _schedule_rows(found["schedule"]["overdue"], names), formats)
    sheet.table(
        _("Completion by phase"),
        [_("Phase"), _("Target completion"), _("Forecast completion"), _("Slip against target (days)")],
        [
            [phase["name"], phase["target_completion"], phase["forecast_completion"], phase["completion_slip_days"]]
            for phase in found["phases"]
        ],
        [None, None, None, WHOLE],
    )
    sheet.finish()


def _gfa_sheet(book, found):
    sheet = _Sheet(book, GFA_BY_TYPE, found)
    rows = [
        [scope.label, row["label"], row["planned_m2"], row["committed_m2"], row["allocated_m2"]]
        for scope in _scopes(found)
        for row in scope.gfa_by_type
    ]
    headers = [_("Scope"), _("Facility type"), _("Planned (m²)"), _("Committed, weighted (m²)"), _("Allocated (m²)")]
    sheet.table(None, headers, rows, [None, None, WHOLE, WHOLE, WHOLE], freeze=True)
    sheet.finish()


SHEETS = (_headline_sheet, _readiness_sheet, _blocks_sheet, _pipeline_sheet, _schedule_sheet, _gfa_sheet)


def xlsx_bytes(found: dict) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for write in SHEETS:
        write(book, found)
    book.properties.title = f"{_('Board pack')} — {found['campus']['name']}"
    book.properties.language = get_language()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(found: dict) -> HttpResponse:
    return _download(xlsx_bytes(found), XLSX_CONTENT_TYPE, _filename(found, "xlsx"))


# --- CSV --------------------------------------------------------------------------------------------------------


def _csv_value(value) -> str:
    """Numbers plain (a point, no grouping), dates ISO, date-times in Hong Kong time, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(_number(value))
    return _text(value)


def _csv_rows(found: dict):
    """(section, phase, item, value, unit) of every figure, in the workbook's order; phase empty for the campus."""
    section = str(HEADLINE)
    for scope in _scopes(found):
        for key in FIGURES:
            yield section, scope.phase, str(LABELS[key][0]), scope.figures[key], _unit_label(key)

    section = str(READINESS)
    for phase in found["phases"]:
        yield section, phase["number"], _("Readiness"), phase["readiness_state_label"], ""
        yield section, phase["number"], _("Readiness score"), _percent(phase["readiness_score"]), "%"
        yield section, phase["number"], _("Readiness computed at"), phase["readiness_computed_at"], ""
    for line in found["readiness_trend"]:
        for point in line["points"]:
            item = _pair(_("Readiness score"), point["day"].isoformat())
            yield section, line["number"], item, _percent(point["score"]), "%"

    section = str(BLOCKS)
    for phase in found["phases"]:
        for row in phase["blockers"]:
            parts = [row["text"]]
            if row["owner"]:
                parts.append(_("owner: %(owner)s") % {"owner": row["owner"]})
            if row["date"]:
                parts.append(_("date: %(date)s") % {"date": row["date"].isoformat()})
            yield section, phase["number"], _pair(row["criterion_label"], row["state_label"]), " — ".join(parts), ""

    section = str(PIPELINE)
    pipeline = found["pipeline"]
    eois, gfa = _("EOIs"), _unit_label("live_eoi_gfa_m2")
    for row in pipeline["eois_by_status"]:
        yield section, None, _pair(_("EOIs by status"), row["label"]), row["count"], eois
        yield section, None, _pair(_("GFA asked for, by EOI status"), row["label"]), row["gfa_m2"], gfa
    for row in pipeline["eois_by_sector"]:
        yield section, None, _pair(_("EOIs by sector"), row["label"]), row["count"], eois
        yield section, None, _pair(_("GFA asked for, by sector"), row["label"]), row["gfa_m2"], gfa
    for row in pipeline["mous_by_status"]:
        yield section, None, _pair(_("MoUs by status"), row["label"]), row["count"], _("MoUs")
    money = _unit_label("capex_hkd_m")
    for row in pipeline["commitments_by_stage"]:
        stage = row["label"]
        yield section, None, _pair(_("Stage probability"), stage), _percent(row["probability"]), "%"
        yield section, None, _pair(_("Commitments by stage"), stage), row["count"], _("commitments")
        yield section, None, _pair(_("Occupancy GFA by stage"), stage), row["gfa_m2"], gfa
        yield section, None, _pair(_("Weighted occupancy GFA by stage"), stage), row["weighted_gfa_m2"], gfa
        yield section, None, _pair(_("Capital by stage"), stage), row["amount_hkd_m"], money
        yield section, None, _pair(_("Weighted capital by stage"), stage), row["weighted_amount_hkd_m"], money
    for row in pipeline["eois_per_month"]:
        yield section, None, _pair(_("New EOIs"), row["month"].strftime("%Y-%m")), row["count"], eois

    section = str(SCHEDULE)
    for table, entries in (
        (_("Milestones in the next 90 days"), found["schedule"]["milestones"]),
        (_("Overdue"), found["schedule"]["overdue"]),
    ):
        for entry in entries:
            item = _pair(table, entry["name"])
            yield section, entry["phase"], _pair(item, _("baseline finish")), entry["baseline_finish"], _("date")
            yield section, entry["phase"], _pair(item, _("forecast finish")), entry["forecast_finish"], _("date")
            yield section, entry["phase"], _pair(item, _("slip")), entry["slip_days"], _("days")
    for phase in found["phases"]:
        yield section, phase["number"], _("Target completion"), phase["target_completion"], _("date")
        yield section, phase["number"], _("Forecast completion"), phase["forecast_completion"], _("date")
        yield section, phase["number"], _("Slip against target"), phase["completion_slip_days"], _("days")

    section = str(GFA_BY_TYPE)
    for scope in _scopes(found):
        for row in scope.gfa_by_type:
            yield section, scope.phase, _pair(row["label"], _("planned")), row["planned_m2"], gfa
            yield section, scope.phase, _pair(row["label"], _("committed, weighted")), row["committed_m2"], gfa
            yield section, scope.phase, _pair(row["label"], _("allocated")), row["allocated_m2"], gfa


def csv_text(found: dict) -> str:
    """The CSV: a few lines starting with # (title, campus, as of, language, scope), the column names, the rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"# {_('Board pack')}"])
    for label, value, note in _header_rows(found):
        writer.writerow([f"# {label}", _csv_value(value), *([_text(note)] if note else [])])
    writer.writerow(["section", "phase", "item", "value", "unit"])
    for section, phase, item, value, unit in _csv_rows(found):
        writer.writerow([_text(section), "" if phase is None else phase, _text(item), _csv_value(value), _text(unit)])
    return out.getvalue()


def csv_response(found: dict) -> HttpResponse:
    # With a byte-order mark, Excel reads the file as UTF-8 (Chinese names and labels), not the system's code page.
    return _download(csv_text(found).encode("utf-8-sig"), CSV_CONTENT_TYPE, _filename(found, "csv"))
