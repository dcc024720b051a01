"""The board pack's downloads (`/dashboard/board-pack.xlsx`, `.csv`): the same figures as the API, read back from the
files; the header rows, file names and headers; who may download them."""

import csv
import datetime
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from dashboard.figures import FIGURES, LABELS
from planning.models import Phase
from planning.services import readiness_recompute

pytestmark = pytest.mark.django_db

XLSX = "/dashboard/board-pack.xlsx"
CSV = "/dashboard/board-pack.csv"
API = "/api/v1/dashboard/"
SHEETS = ["Headline figures", "Readiness", "What blocks", "Partner pipeline", "Schedule", "GFA by facility type"]
HEADER_ROWS = range(2, 6)  # under the title: campus, as of, language, scope


@pytest.fixture
def reader(client, demo_once, executive):
    client.force_login(executive)
    return client


def workbook(response):
    return load_workbook(io.BytesIO(response.content))


def header(sheet) -> dict:
    return {sheet.cell(row, 1).value: sheet.cell(row, 2).value for row in HEADER_ROWS}


def table(sheet, first_header: str) -> tuple[int, list, list[tuple]]:
    """(row number of the column headers, the headers, the rows under them) of the first table whose first column
    is headed `first_header`."""
    rows = list(sheet.iter_rows(values_only=True))
    at = next(index for index, row in enumerate(rows) if row[0] == first_header)
    width = len(rows[at]) - next(index for index, value in enumerate(reversed(rows[at])) if value is not None)
    body = []
    for row in rows[at + 1 :]:
        if row[0] is None:
            break
        body.append(row[:width])
    return at + 1, list(rows[at][:width]), body


def keyed(body: list[tuple]) -> dict:
    return {row[0]: row for row in body}


def csv_rows(response) -> tuple[dict, list[dict]]:
    """(the # rows by label, the data rows) of a CSV download."""
    text = response.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    comments = {line[0].removeprefix("# "): line[1:] for line in lines if line and line[0].startswith("#")}
    data = [line for line in lines if line and not line[0].startswith("#")]
    return comments, [dict(zip(data[0], line, strict=True)) for line in data[1:]]


def test_the_workbook_has_the_api_figures_as_numbers(reader, django_assert_max_num_queries):
    api = reader.get(API).json()
    # The figures come from the cache: the session, the user, the user's roles and the campus only.
    with django_assert_max_num_queries(4):
        response = reader.get(XLSX)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Cache-Control"] == "private, no-store"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="innopole-board-pack-{today}-en.xlsx"'
    book = workbook(response)
    assert book.sheetnames == SHEETS
    computed_at = datetime.datetime.fromisoformat(api["computed_at"])
    for sheet in book:
        assert sheet["A1"].value == f"Board pack: {sheet.title}"
        found = header(sheet)
        assert found["Campus"] == api["campus"]["name"]
        assert found["Language"] == "English"
        assert found["Figures for"] == "Whole campus"
        as_of = timezone.localtime(computed_at).replace(tzinfo=None)
        assert abs(found["As of"] - as_of) < datetime.timedelta(seconds=1)

    sheet = book["Headline figures"]
    at, headers, body = table(sheet, "Figure")
    rows = keyed(body)
    assert headers == ["Figure", "Unit", "Campus", *(phase["name"] for phase in api["phases"])]
    assert sheet.freeze_panes == f"A{at + 1}" and sheet.cell(at, 1).font.b
    assert len(api["phases"]) >= 2
    for key in FIGURES:
        row = rows[str(LABELS[key][0])]
        assert row[1] == str(LABELS[key][1])
        for value, expected in zip(row[2:], [api[key], *(phase[key] for phase in api["phases"])], strict=True):
            assert value == expected, key
            assert isinstance(value, int | float) or (value is None and expected is None), key
    number_formats = {row[0].value: row[2].number_format for row in sheet.iter_rows(min_row=at + 1)}
    assert number_formats[str(LABELS["gfa_planned_m2"][0])] == "#,##0"
    assert number_formats[str(LABELS["precommitment_pct"][0])] == "0.0"
    assert number_formats[str(LABELS["capex_hkd_m"][0])] == "#,##0.0"
    assert sheet.column_dimensions["A"].width > 20


def test_every_sheet_has_the_api_section(reader):
    for phase in Phase.objects.order_by("number"):  # the demo computes no readiness: its blockers come from it
        readiness_recompute(phase=phase)
    book = workbook(reader.get(XLSX))
    api = reader.get(API).json()
    phases = {phase["name"]: phase for phase in api["phases"]}

    _at, _headers, body = table(book["Readiness"], "Phase")
    rows = keyed(body)
    for name, phase in phases.items():
        row = rows[name]
        assert row[2] == phase["readiness_state_label"]
        assert row[3] == pytest.approx(phase["readiness_score"] * 100)
        assert isinstance(row[5], datetime.datetime)
        assert row[6] == "\n".join(phase["top_reasons"])
    _at, headers, body = table(book["Readiness"], "Day")
    assert headers == ["Day", *(line["name"] for line in api["readiness_trend"])]
    assert body[-1][0].date() == timezone.localdate()
    assert body[-1][1:] == tuple(pytest.approx(line["points"][-1]["score"] * 100) for line in api["readiness_trend"])

    _at, _headers, body = table(book["What blocks"], "Phase")
    blockers = [
        (name, row["criterion_label"], row["text"], row["owner"] or None, row["date"])
        for name, phase in phases.items()
        for row in phase["blockers"]
    ]
    assert any(row[1] != "Critical path" for row in blockers), "the demo's readiness has failing criteria"
    assert [(row[0], row[1], row[3], row[5], row[6] and row[6].date().isoformat()) for row in body] == blockers

    pipeline = api["pipeline"]
    _at, _headers, body = table(book["Partner pipeline"], "Status")  # EOIs by status, the first table
    assert [(row[0], row[2], row[3]) for row in body] == [
        (r["label"], r["count"], r["gfa_m2"]) for r in pipeline["eois_by_status"]
    ]
    _at, _headers, body = table(book["Partner pipeline"], "Stage")
    assert [row[:5] for row in body] == [
        (r["label"], pytest.approx(r["probability"] * 100), r["count"], r["gfa_m2"], r["weighted_gfa_m2"])
        for r in pipeline["commitments_by_stage"]
    ]
    at, _headers, body = table(book["Partner pipeline"], "Month")
    assert [(row[0].date().isoformat(), row[1]) for row in body] == [
        (r["month"], r["count"]) for r in pipeline["eois_per_month"]
    ]
    assert book["Partner pipeline"].cell(at + 1, 1).number_format == "yyyy-mm"

    schedule = book["Schedule"]
    _at, _headers, body = table(schedule, "Phase")  # the first table: milestones in the next 90 days
    assert [(row[1], row[5].date().isoformat()) for row in body] == [
        (m["name"], m["forecast_finish"]) for m in api["schedule"]["milestones"]
    ]
    completion = keyed(row for row in schedule.iter_rows(values_only=True) if row[0] in phases and row[2] is not None)
    for name, phase in phases.items():
        assert completion[name][1].date().isoformat() == phase["target_completion"]

    _at, _headers, body = table(book["GFA by facility type"], "Scope")
    assert [row[1:] for row in body if row[0] == "Campus"] == [
        (r["label"], r["planned_m2"], r["committed_m2"], r["allocated_m2"]) for r in api["gfa_by_type"]
    ]


def test_the_csv_has_the_api_figures(reader):
    response = reader.get(CSV)
    api = reader.get(API).json()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="innopole-board-pack-{today}-en.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    comments, rows = csv_rows(response)
    assert comments["Campus"] == [api["campus"]["name"]]
    assert comments["Language"] == ["English"]
    assert comments["As of"][0] == timezone.localtime(datetime.datetime.fromisoformat(api["computed_at"])).strftime(
        "%Y-%m-%d %H:%M"
    )
    headline = {(row["phase"], row["item"]): row for row in rows if row["section"] == "Headline figures"}
    scopes = [("", api), *((str(phase["number"]), phase) for phase in api["phases"])]
    for phase, expected in scopes:
        for key in FIGURES:
            row = headline[(phase, str(LABELS[key][0]))]
            assert row["unit"] == str(LABELS[key][1])
            assert (float(row["value"]) if row["value"] else None) == expected[key], (phase, key)
    sections = {row["section"] for row in rows}
    assert sections == set(SHEETS)
    blockers = [row for row in rows if row["section"] == "What blocks"]
    assert len(blockers) == sum(len(phase["blockers"]) for phase in api["phases"])
    gfa = {
        row["item"]: float(row["value"])
        for row in rows
        if row["section"] == "GFA by facility type" and not row["phase"]
    }
    for row in api["gfa_by_type"]:
        assert gfa[f"{row['label']}: planned"] == row["planned_m2"]
    assert all("," not in row["value"] for row in rows if row["section"] == "Headline figures")


def test_in_traditional_chinese_the_pack_is_in_chinese(reader):
    reader.cookies["django_language"] = "zh-hant"
    api = reader.get(API).json()

    response = reader.get(XLSX)
    assert "-zh-hant.xlsx" in response["Content-Disposition"]
    book = workbook(response)
    assert all(sheet.cell(4, 2).value == "繁體中文" for sheet in book)
    # The data's own Chinese (phase names, status labels), as the API gives it in Chinese.
    names = [phase["name"] for phase in api["phases"]]
    assert names != list(Phase.objects.order_by("number").values_list("name_en", flat=True))
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[int(sheet.freeze_panes[1:]) - 1]]  # frozen under the column headers
    assert headers[-len(names) :] == names
    first_column = {cell.value for cell in book.worksheets[3]["A"]}
    assert {row["label"] for row in api["pipeline"]["eois_by_status"]} <= first_column

    response = reader.get(CSV)
    assert "-zh-hant.csv" in response["Content-Disposition"]
    comments, _rows = csv_rows(response)
    assert list(comments.values())[3] == ["繁體中文"]  # title, campus, as of, language


def test_as_of_a_day_says_that_day(reader):
    today = timezone.localdate()
    response = reader.get(XLSX, {"as_of": today.isoformat()})

    assert response.status_code == 200
    assert f"-{today.isoformat()}-en.xlsx" in response["Content-Disposition"]
    sheet = workbook(response).worksheets[0]
    assert sheet.cell(3, 1).value == "As of"
    assert sheet.cell(3, 2).value.date() == today and sheet.cell(3, 2).number_format == "yyyy-mm-dd"
    comments, _rows = csv_rows(reader.get(CSV, {"as_of": today.isoformat()}))
    assert comments["As of"][0] == today.isoformat()


def test_a_phase_filter_names_the_phase(reader):
    response = reader.get(XLSX, {"phase": "2"})
    api = reader.get(API, {"phase": "2"}).json()

    assert "-phase-2-en.xlsx" in response["Content-Disposition"]
    sheet = workbook(response)["Headline figures"]
    assert header(sheet)["Figures for"] == f"Phase 2 ({api['phases'][0]['name']})"
    _at, headers, body = table(sheet, "Figure")
    assert headers == ["Figure", "Unit", api["phases"][0]["name"]]
    rows = keyed(body)
    for key in FIGURES:
        assert rows[str(LABELS[key][0])][2] == api[key], key


def test_a_campus_with_no_phases_has_its_pack(reader, campus):
    book = workbook(reader.get(XLSX, {"campus": campus.code}))
    assert book.sheetnames == SHEETS
    assert header(book["Headline figures"])["Campus"] == campus.name
    _at, headers, body = table(book["Headline figures"], "Figure")
    assert headers == ["Figure", "Unit", "Campus"] and len(body) == len(FIGURES)

    comments, rows = csv_rows(reader.get(CSV, {"campus": campus.code}))
    assert comments["Campus"] == [campus.name]
    assert {row["phase"] for row in rows} == {""}


def test_a_bad_filter_answers_400_and_no_file(reader):
    for url in (XLSX, CSV):
        for query in ({"phase": "abc"}, {"campus": "a\x00b"}, {"facility_type": "office\x00"}):
            response = reader.get(url, query)
            assert response.status_code == 400, (url, query)
            assert "Content-Disposition" not in response
    page = reader.get("/dashboard/", {"campus": "a\x00b"})
    assert page.status_code == 400
    assert "Campus (the URL's campus=): Null characters are not allowed." in page.content.decode()


def test_text_a_spreadsheet_would_run_is_not_a_formula(reader):
    Phase.objects.filter(number=1).update(name_en="=HYPERLINK(1)")

    sheet = workbook(reader.get(XLSX))["Headline figures"]
    _at, headers, _rows = table(sheet, "Figure")
    assert "'=HYPERLINK(1)" in headers
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("url", [XLSX, CSV])
def test_a_partner_is_sent_to_the_portal(client, demo_once, partner, url):
    client.force_login(partner)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert "Content-Disposition" not in response


@pytest.mark.parametrize("url", [XLSX, CSV])
def test_an_anonymous_user_is_sent_to_sign_in(client, demo_once, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert "Content-Disposition" not in response
