"""/healthz: the database decides 200/503; the broker is reported, against real servers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_ok_with_database_and_no_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["database"]["status"] == "ok" and body["database"]["vendor"] == "postgresql"
    assert body["broker"]["status"] == "not_configured"
    assert "last_readiness_sweep" in body


@pytest.mark.django_db
def test_broker_that_does_not_answer_is_reported_but_does_not_fail_the_check(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"]["status"] == "error"


@pytest.mark.django_db
def test_a_running_redis_broker_is_ok(client, settings, redis_server):
    settings.CELERY_BROKER_URL = redis_server.broker_url
    assert client.get("/healthz").json()["broker"]["status"] == "ok"


def test_503_when_the_database_does_not_answer():
    """A real process whose DATABASE_URL points at a port nothing listens on."""
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "innopole.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing",
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["database"]["status"] == "error"
