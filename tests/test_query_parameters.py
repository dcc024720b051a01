"""Every query parameter of every read in the schema, sent a value of the wrong kind, is answered without a server
error: refused with a 400 that names it, or (where the parameter only narrows a search) answered normally.

Schemathesis's coverage phase sends reads only the boundary values of their parameters (`schemathesis.toml`); the
wrong kinds, a third of all its cases, are sent here instead, a few per parameter rather than one per JSON type.
"""

import pytest

from tests.conftest import api_client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Not a number, not a day, not a choice; a number past PostgreSQL's bigint; a list where one value is expected; an
# empty value; a NUL byte (PostgreSQL refuses it in text).
WRONG = ["not-a-value-é", "99999999999999999999999", "-1.5e400", "", "a\x00b"]


@pytest.fixture(scope="module")
def reads(django_db_setup, django_db_blocker):
    """(path, parameter names) of every GET operation, read from the schema the API serves."""
    from django.test import Client

    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/?format=json").json()
    found = []
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        parameters = operations["get"].get("parameters", []) + operations.get("parameters", [])
        query = sorted({parameter["name"] for parameter in parameters if parameter["in"] == "query"})
        if query:
            found.append((path.replace("{id}", "1"), query))
    return found


def test_the_schema_has_reads_with_parameters(reads):
    paths = dict(reads)
    assert "page" in paths["/api/v1/parcels/"] and "as_of" in paths["/api/v1/parcels/"]
    assert len(reads) >= 20


def test_a_wrong_kind_of_value_is_never_a_server_error(reads, demo_once):
    # On the demo, so that a value that passes a filter's first check reaches its query (the dashboard's `campus`
    # and `facility_type` with a NUL in them once did: a 500 from PostgreSQL).
    api = api_client_for(UserFactory(username="query-staff", role="Staff", is_staff=True))
    api.raise_request_exception = False  # a server error is a 500 to list, not an exception that ends the test
    failures = []
    for path, names in reads:
        for name in names:
            for value in WRONG:
                response = api.get(path, {name: value})
                if response.status_code >= 500 or response.status_code not in (200, 400, 404):
                    failures.append(f"{path}?{name}={value!r}: {response.status_code}")
                elif response.status_code == 400 and response["Content-Type"].startswith("application/json"):
                    body = response.json()
                    if isinstance(body, dict) and name not in body and "detail" not in body:
                        failures.append(f"{path}?{name}={value!r}: 400 without naming {name}: {body}")
    assert failures == []
