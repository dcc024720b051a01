"""Fixtures shared by the whole suite: users per role, API clients, the demo campus."""

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from innopole.roles import EXECUTIVE, PARTNER, PLANNER, STAFF
from tests.factories import CampusFactory, UserFactory
from tests.processes import RedisServer


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (sign-in failure counts, throttles)."""
    cache.clear()


@pytest.fixture
def planner(db):
    return UserFactory(username="planner-t", role=PLANNER)


@pytest.fixture
def executive(db):
    return UserFactory(username="executive-t", role=EXECUTIVE)


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff-t", role=STAFF, is_staff=True)


@pytest.fixture
def partner(db):
    return UserFactory(username="partner-t", role=PARTNER)


@pytest.fixture
def admin_client(client, staff_user):
    """The test client signed in as HKSTP staff (for the admin)."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def users(planner, executive, staff_user, partner):
    return {"planner": planner, "executive": executive, "staff": staff_user, "partner": partner}


def api_client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(planner):
    """An API client signed in (by token) as a planner."""
    return api_client_for(planner)


@pytest.fixture
def campus(db):
    return CampusFactory()


@pytest.fixture
def demo(db, settings):
    """The demo campus of data/innopole-demo.json, loaded by seed_demo."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    from planning.models import Campus

    return Campus.objects.get(code="innopole")


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own on a free port (broker on db 0, cache on db 1), stopped by its PID."""
    server = RedisServer(tmp_path)
    if server.binary is None:
        pytest.skip("redis-server is not installed: install Debian's redis-server package to run this test")
    server.start()
    yield server
    server.stop()
