"""Fixtures shared by the whole suite: users per role, API clients, two organisations and a partner, the demo campus
(per test, or once per module or class for tests that only read it)."""

import io
import json

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF
from tests.demo_loader import DemoDump
from tests.factories import CampusFactory, OrganisationFactory, UserFactory, partner_user
from tests.processes import RedisServer


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (sign-in failure counts, throttles)."""
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language: a test that renders in Chinese in this thread (a template, a
    reason) must not leave the next test of the same process reading Chinese."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


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
def org_a(db):
    return OrganisationFactory(code="org-a", name_en="Alpha Robotics")


@pytest.fixture
def org_b(db):
    return OrganisationFactory(code="org-b", name_en="Beta Biologics")


@pytest.fixture
def partner_a(org_a):
    """A portal user of org A (the organisation whose rows it may reach; org B's are hidden from it)."""
    return partner_user(org_a, username="partner-a")


@pytest.fixture
def campus(db):
    return CampusFactory()


# The demo's rows as seed_demo left them, dumped the first time this process loads it and kept in memory, deserialised;
# keyed by whether it was loaded inside a transaction (then no on-commit work ran: readiness not computed) or not (a
# live-server test: it ran).
DEMO_DUMPS: dict[bool, DemoDump] = {}
# What seed_demo writes: the apps' rows with their history, and the demo users (their roles by group name).
DEMO_MODELS = ["planning", "partners", "tenants", "auth.user"]


def _migration_defaults():
    from partners.models import CommitmentStage
    from planning.models import ReadinessCriterionSetting, ReadinessPolicy

    return [ReadinessCriterionSetting, ReadinessPolicy, CommitmentStage]


def _dumped_models():
    from django.apps import apps

    return [
        model
        for label in DEMO_MODELS
        for model in ([apps.get_model(label)] if "." in label else apps.get_app_config(label).get_models())
    ]


def _highest_keys() -> dict[str, int]:
    from django.db.models import Max

    return {model._meta.label_lower: model.objects.aggregate(top=Max("pk"))["top"] or 0 for model in _dumped_models()}


def _dump_demo(before: dict[str, int]) -> DemoDump:
    """The rows seed_demo wrote (keys above those the test had before it), and the rows migrations create in full
    (seed_demo may change them): not the test's own rows (its users, say), which the next test does not have."""
    defaults = {model._meta.label_lower for model in _migration_defaults()}
    defaults |= {model.history.model._meta.label_lower for model in _migration_defaults()}
    out = io.StringIO()
    call_command("dumpdata", *DEMO_MODELS, natural_foreign=True, stdout=out)
    rows = [row for row in json.loads(out.getvalue()) if row["model"] in defaults or row["pk"] > before[row["model"]]]
    return DemoDump(rows)


def load_demo():
    """The demo campus: seed_demo (every row through the services; it refuses to run with DEBUG off, as on a real
    deployment) the first time in this test process, then the same rows written again from the dump of that first
    run (`DemoDump.load`: what loaddata would write, in about fifty queries) — seconds the first time, about a tenth
    of a second each later time a browser test or a module needs it."""
    from planning.models import Campus

    in_transaction = connection.in_atomic_block
    dump = DEMO_DUMPS.get(in_transaction)
    with override_settings(DEBUG=True):
        if dump is None:
            before = _highest_keys()
            call_command("seed_demo", stdout=io.StringIO())
            DEMO_DUMPS[in_transaction] = _dump_demo(before)
        else:
            # The rows migrations create (readiness settings, commitment stages) are in the dump as seed_demo found
            # them: in their place, so the dump's keys are the ones its rows refer to.
            for model in _migration_defaults():
                model.objects.all().delete()
                model.history.all().delete()  # with the records of the deletion just made
            dump.load()
    return Campus.objects.get(code="innopole")


@pytest.fixture
def demo(db, settings):
    """The demo campus of data/innopole-demo.json, loaded by seed_demo for a test that may change it (with DEBUG
    on for the test, as some of them call seed_demo again)."""
    settings.DEBUG = True
    return load_demo()


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker):
    """The demo campus loaded once for a module whose tests only read it (like `TestCase.setUpTestData`).

    It is loaded inside an outer transaction that stays open for the module and is rolled back after it; each test
    of the module (marked `django_db`, not `transaction=True`) runs in a savepoint inside it, so what a test writes
    is still undone after that test. Loading the demo takes seconds; a module pays it once.
    """
    yield from _demo_in_an_open_transaction(django_db_blocker)


@pytest.fixture(scope="class")
def demo_once_per_class(django_db_setup, django_db_blocker):
    """`demo_once` for one test class, in a module whose other tests need a database without the demo."""
    yield from _demo_in_an_open_transaction(django_db_blocker)


def _demo_in_an_open_transaction(django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield load_demo()
        transaction.set_rollback(True)


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own on a free port (broker on db 0, cache on db 1), stopped by its PID."""
    server = RedisServer(tmp_path)
    if server.binary is None:
        pytest.skip("redis-server is not installed: install Debian's redis-server package to run this test")
    server.start()
    yield server
    server.stop()
