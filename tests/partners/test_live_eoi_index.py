"""The review queue and the roll-ups at scale: what they count and sum is right, and PostgreSQL can read it from
the partial index of live EOIs (`eoi_live`) instead of the wide EOI rows.

Whether an index *can* answer a query is asked with sequential and bitmap scans switched off for the transaction:
the planner then uses the index if the query lets it, and falls back to a sequential scan if not (a rewrite of the
queue's filter back to "awaiting, or accepted with no commitment" would make the index unusable and fail here).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners import services
from partners.models import ExpressionOfInterest
from tests.factories import CommitmentFactory, EOIFactory, ParcelFactory

pytestmark = pytest.mark.django_db

Status = ExpressionOfInterest.Status
QUEUE = "/admin/partners/expressionofinterest/"
ROLLUPS = "/api/v1/rollups/phases/?page_size=100"


def plan_with_index_preferred(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    return plan


def captured(client, url: str, *words: str) -> dict:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    (query,) = [query for query in queries.captured_queries if all(word in query["sql"] for word in words)]
    return query


def test_an_accepted_eoi_stays_queued_while_commitments_without_a_source_eoi_exist(admin_client):
    # Most commitments are made directly, without an EOI: their empty source must not hide accepted EOIs.
    CommitmentFactory()
    parcel = ParcelFactory()
    accepted = EOIFactory(status=Status.ACCEPTED, preferred_phase=parcel.phase, preferred_parcel=parcel)
    done = EOIFactory(status=Status.ACCEPTED, preferred_phase=parcel.phase, preferred_parcel=parcel)
    services.commitment_from_eoi(eoi=done, actor=None)
    waiting = EOIFactory(status=Status.SUBMITTED)
    EOIFactory(status=Status.DECLINED)
    EOIFactory()  # a draft

    changelist = admin_client.get(QUEUE).context["cl"]

    assert set(changelist.result_list) == {accepted, waiting}
    assert changelist.result_count == 2


def test_the_queue_is_counted_from_the_live_eoi_index(admin_client):
    EOIFactory(status=Status.SUBMITTED)
    query = captured(admin_client, QUEUE, "COUNT(", "partners_expressionofinterest")

    plan = plan_with_index_preferred(query["sql"], None)

    assert "Index Only Scan using eoi_live" in plan, plan


def test_phase_eoi_demand_is_summed_from_the_live_eoi_index(client, users):
    parcel = ParcelFactory()
    EOIFactory(status=Status.SUBMITTED, preferred_phase=parcel.phase, preferred_parcel=parcel, gfa_m2=100)
    client.force_login(users["planner"])
    query = captured(client, ROLLUPS, "partners_expressionofinterest")

    plan = plan_with_index_preferred(query["sql"], None)

    assert "Index Only Scan using eoi_live" in plan, plan
