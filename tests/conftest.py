"""Fixtures shared by the whole suite: users per role, API clients, the demo campus."""

import io
import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from innopole.roles import EXECUTIVE, PARTNER, PLANNER, STAFF
from tests.factories import CampusFactory, UserFactory


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of the test's own on a free port, stopped by its PID afterwards; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: install Debian's redis-server package to run this test")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
