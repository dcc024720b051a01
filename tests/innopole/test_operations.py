"""Operations: the embedded SQLite default under concurrent writers, kept connections after the database dropped
them, and production settings that refuse a public secret key."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import close_old_connections, connection

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _request(url: str, *, method: str = "GET", body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:300]


@pytest.fixture
def sqlite_demo_server(tmp_path):
    """`make run`'s setup on a fresh SQLite file: migrate, seed_demo, runserver (threaded), stopped by its PID."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="innopole.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        DEMO_PASSWORD="concurrent-Demo-2026",
    )
    for step in (["migrate", "--noinput"], ["seed_demo", "--if-empty"]):
        done = _manage(*step, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                pytest.fail("runserver did not answer on SQLite")
            time.sleep(0.2)
    yield base, env["DEMO_PASSWORD"]
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


@pytest.mark.slow
def test_the_sqlite_default_holds_several_users_writing_at_once(sqlite_demo_server):
    """Security M5: two concurrent writes were enough for a 500 "database is locked"; now writers queue."""
    base, password = sqlite_demo_server
    status, body = _request(
        f"{base}/api/v1/auth/token/", method="POST", body={"username": "planner", "password": password}
    )
    assert status == 200, body
    token = body["token"]
    status, body = _request(f"{base}/api/v1/facilities/?page_size=8", token=token)
    assert status == 200, body
    facility_ids = [row["id"] for row in body["results"]]
    assert len(facility_ids) >= 6

    answers: list[int] = []
    for round_number in range(3):
        barrier = threading.Barrier(len(facility_ids))

        def write(facility_id: int, round_number: int = round_number, barrier=barrier) -> None:
            barrier.wait()
            status, _body = _request(
                f"{base}/api/v1/facilities/{facility_id}/",
                method="PATCH",
                body={"name": f"Concurrent {round_number}-{facility_id}"},
                token=token,
            )
            answers.append(status)

        threads = [threading.Thread(target=write, args=(facility_id,)) for facility_id in facility_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert answers == [200] * (3 * len(facility_ids))
    status, body = _request(f"{base}/api/v1/facilities/{facility_ids[0]}/", token=token)
    assert body["name"] == f"Concurrent 2-{facility_ids[0]}"


@pytest.mark.django_db(transaction=True)
def test_a_kept_connection_the_server_dropped_is_replaced_at_the_next_request(client, settings):
    """Security L7: with persistent connections each worker answered one 500/503 after a database restart."""
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        assert client.get("/healthz").status_code == 200
        backend_pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        with psycopg.connect(
            host=params.get("host"),
            port=params.get("port"),
            user=params.get("user"),
            password=params.get("password"),
            dbname=params.get("dbname"),
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        # What every real request starts with (the test client leaves it out): Django's request_started handler.
        close_old_connections()
        response = client.get("/healthz")
        assert response.status_code == 200, response.json()
        assert connection.connection.info.backend_pid != backend_pid
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.close()


def _deploy_check(secret_key: str) -> subprocess.CompletedProcess:
    # The browser tests' switch for Playwright's event loop must not leak into a deployment check.
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "innopole.settings.production",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "innopole.example",
    }
    return _manage("check", "--deploy", "--fail-level", "WARNING", env=env, timeout=120)


@pytest.mark.parametrize(
    "placeholder",
    [
        "compose-local-only-change-me-0d4f8a3b9c2e7f16a5b8c3d9e2f7a1b4c6d8e0f2",  # the old compose fallback
        "insecure-local-only-key-change-me",  # the local default
    ],
)
def test_production_settings_refuse_a_key_that_stands_in_the_repository(placeholder):
    """Security L9: the compose file's public fallback key passed `check --deploy`."""
    done = _deploy_check(placeholder)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is a placeholder" in done.stderr


def test_production_settings_accept_a_generated_key():
    done = _deploy_check("q7Yk2-Vt9zLw_" + "Rb3xPn8sJm4Hd6Gf1Ac0Ue5Oi7Ly2Tw9Kr3Zq8Xv6Nb4Mj")
    assert done.returncode == 0, done.stderr[-2000:]
