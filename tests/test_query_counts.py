"""Absolute query counts (NetBox's `query_counts.json` idea): every list endpoint under /api/v1/, every list page and
every admin changelist, requested by each role that may open it, on one fixed dataset (the demo campus, plus EOI
files and invitations, which the demo has none of), must cost exactly the number of queries in
`tests/query_counts.json`. One query more fails, and so does one fewer (so the file follows an improvement).

The endpoints and changelists are enumerated from the API router and from `admin.site._registry`: a new one fails
here until it has a baseline, and a role that is refused (no baseline) must stay refused. To rewrite the file on
purpose, after checking that a change in the counts is wanted:

    UPDATE_QUERY_BASELINES=1 make test PYTEST_ARGS=tests/test_query_counts.py
"""

import json
import os
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import freshness
from innopole.urls import router
from partners import services as partner_services
from partners.models import ExpressionOfInterest, Membership, Organisation
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

BASELINES = Path(__file__).with_name("query_counts.json")
UPDATE = os.environ.get("UPDATE_QUERY_BASELINES") == "1"
# The demo's users (planning.demo.DEMO_USERS and partners.demo.PARTNER_USERS): one per role; "partner" is an
# admin of Kestrel Robotics.
ROLES = ("staff", "planner", "executive", "partner")
PAGES = [
    "/plan/",
    "/plan/schedule/",
    "/plan/phases/1/",
    "/dashboard/",
    "/portal/",
    "/portal/invite/",
    "/api/v1/dashboard/",
]
# The dashboard (page and endpoint), with its filters; "#cold" measures it with its cached figures out of date (the
# generation moved on: the figures recomputed), the others as most requests find them (cached). Planners and staff
# read the same figures as executives (measured on the plain page and endpoint): the variants are measured for the
# executive, and for the partner who is refused them.
DASHBOARD = [
    "/dashboard/?phase=1&facility_type=office",
    "/dashboard/#cold",
    "/api/v1/dashboard/#cold",
    "/api/v1/dashboard/?phase=2&facility_type=gmp#cold",
]
# Changelists whose filters change the query (the review queue's "all", pending invitations, one status).
ADMIN_FILTERED = [
    "/admin/partners/expressionofinterest/?queue=all",
    "/admin/partners/invitation/?state=pending",
    "/admin/tenants/spaceallocation/?status__exact=signed",
]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# The plan as it stood at the end of a day (`?as_of=`, planning.asof), on the day the test runs ("{today}": the
# demo's history is all of today, so that day holds every row).
AS_OF = [
    *[
        f"/api/v1/{name}/?as_of={{today}}"
        for name in (
            "phases",
            "parcels",
            "parcels/geojson",
            "facilities",
            "utility-capacities",
            "schedule-items",
            "schedule-dependencies",
        )
    ],
    "/plan/?as_of={today}",
    "/plan/phases/1/?as_of={today}",
    "/dashboard/?as_of={today}#cold",
    "/api/v1/dashboard/?as_of={today}#cold",
]
DASHBOARD_ROLES = ("executive", "partner")


def api_list_urls() -> list[str]:
    """Every GET route of the router that is not about one row: the lists and the collection-level actions."""
    urls = []
    for prefix, viewset, _basename in router.registry:
        for route in router.get_routes(viewset):
            action = dict(route.mapping).get("get")  # MethodMapper.get is its decorator, not dict.get
            if route.detail or action is None or not hasattr(viewset, action):
                continue
            path = route.url.format(prefix=prefix, trailing_slash="/", lookup="")
            urls.append("/api/v1/" + re.sub(r"^\^|\$$", "", path))
    return urls


def admin_changelist_urls() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    ]


CASES = [
    *[pytest.param(url, role, id=f"{url}-{role}") for url in api_list_urls() + PAGES + AS_OF for role in ROLES],
    *[pytest.param(url, role, id=f"{url}-{role}") for url in DASHBOARD for role in DASHBOARD_ROLES],
    # The admin is for HKSTP staff only (is_staff); the other roles are sent to the admin's sign-in.
    *[pytest.param(url, "staff", id=f"{url}-staff") for url in admin_changelist_urls() + ADMIN_FILTERED],
]
measured: dict[str, dict[str, int | None]] = {}  # update mode: what this run saw (None: the role is refused)


@pytest.fixture(scope="module")
def dataset(demo_once):
    """The demo, with files on Kestrel's EOIs and pending invitations (the portal and the EOI lists show them)."""
    kestrel = Organisation.objects.get(code="kestrel")
    admin_user = Membership.objects.filter(organisation=kestrel, role=Membership.Role.ADMIN).first().user
    undecided = [
        eoi for eoi in ExpressionOfInterest.objects.filter(organisation=kestrel).order_by("pk") if not eoi.is_decided
    ]
    for eoi in undecided[:3]:
        for index in range(2):
            upload = SimpleUploadedFile(f"plan-{index}.png", PNG, content_type="image/png")
            partner_services.attachment_add(eoi=eoi, actor=admin_user, upload=upload)
    for index in range(3):
        partner_services.invitation_create(
            organisation=kestrel, email=f"colleague-{index}@kestrel.example.org", actor=admin_user
        )
    return demo_once


@pytest.fixture(scope="module", autouse=True)
def _write_baselines_in_update_mode():
    yield
    if UPDATE and measured:
        table = baselines()  # a partial run (-k) rewrites only what it measured
        for url, counts in measured.items():
            table.setdefault(url, {}).update(counts)
        known = known_cases()
        table = {
            url: {role: count for role, count in sorted(counts.items()) if count is not None and (url, role) in known}
            for url, counts in sorted(table.items())
        }
        table = {url: counts for url, counts in table.items() if counts}
        BASELINES.write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def known_cases() -> set[tuple[str, str]]:
    return {tuple(case.values) for case in CASES}


def baselines() -> dict[str, dict[str, int]]:
    return json.loads(BASELINES.read_text(encoding="utf-8")) if BASELINES.exists() else {}


def client_for(url: str, user):
    if url.startswith("/api/"):
        return api_client_for(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("url", "role"), CASES)
def test_queries_equal_the_baseline(dataset, django_user_model, url, role):
    client = client_for(url, django_user_model.objects.get(username=role))
    path = url.format(today=timezone.localdate().isoformat()).removesuffix("#cold")
    # A first request fills what Django caches per process (content types, translations), so the count does not
    # depend on which test ran before.
    client.get(path)
    if url.endswith("#cold"):
        freshness._bump()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    count = len(captured)
    expected = baselines().get(url, {}).get(role)

    if UPDATE:
        measured.setdefault(url, {})[role] = count if response.status_code == 200 else None
        return
    if response.status_code != 200:
        assert expected is None, f"{url} as {role}: {response.status_code}, but the baseline has {expected} queries"
        return
    sql = "\n".join(query["sql"] for query in captured.captured_queries)
    assert expected is not None, (
        f"{url} as {role} answers 200 and has no baseline ({count} queries): check them, then rewrite the file "
        f"with UPDATE_QUERY_BASELINES=1 (module docstring).\n{sql}"
    )
    assert count == expected, f"{url} as {role}: {count} queries, the baseline is {expected}.\n{sql}"


@pytest.mark.skipif(UPDATE, reason="the file is being rewritten")
def test_the_baseline_file_names_only_what_exists():
    """A baseline for an endpoint, page or role that is no longer requested would check nothing."""
    stale = {(url, role) for url, counts in baselines().items() for role in counts} - known_cases()
    assert not stale
    # And it measures what the roles open (an empty file would make every refused-role case pass).
    assert {("/portal/", "partner"), ("/plan/", "planner"), ("/api/v1/eois/", "partner")} <= {
        (url, role) for url, counts in baselines().items() for role in counts
    }
    ours = {url for url in admin_changelist_urls() if url.split("/")[2] in {"planning", "partners", "tenants"}}
    assert ours | set(ADMIN_FILTERED) <= set(baselines())


def test_the_enumeration_finds_the_lists_pages_and_changelists():
    """The enumeration itself: if it found nothing, every case above would pass vacuously."""
    api = api_list_urls()
    assert {"/api/v1/eois/", "/api/v1/allocations/", "/api/v1/parcels/geojson/", "/api/v1/rollups/phases/"} <= set(api)
    assert "/api/v1/eois/submit/" not in api and not any("{" in url or "(" in url for url in api)
    changelists = admin_changelist_urls()
    assert {"/admin/partners/expressionofinterest/", "/admin/tenants/spaceallocation/"} <= set(changelists)
