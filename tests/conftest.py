import pytest
from rest_framework.test import APIClient

from tests.factories import OwnerFactory, org_chart


@pytest.fixture
def api_client(db):
    """An API client authenticated with a real DRF token, as marketing ops would use it."""
    from mqaflow.tokens import token_issue

    owner = OwnerFactory(name="Marketing Ops", email="ops@seller.example", title="Marketing ops")
    owner.user.is_staff = True
    owner.user.save()
    _, key = token_issue(user=owner.user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def org():
    """The standard org chart (tests.factories.org_chart): ADR and peer → manager → VP → CEO."""
    return org_chart()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _defaults_for_transactional_tests(request):
    """Transactional tests flush the database; reinstall the data-migration defaults
    (idempotently) so every test sees the rules, policies and schedules a fresh system has."""
    marker = request.node.get_closest_marker("django_db")
    if not marker or not (marker.kwargs.get("transaction") or "transaction" in marker.args):
        yield
        return
    request.getfixturevalue("transactional_db")
    install_defaults()
    yield


def install_defaults():
    """What the data migrations seed (their frozen rules, policies and templates, with a
    first history row), and every periodic task through the live `schedules_install`."""
    import importlib

    from django.apps import apps

    from config.schedules import schedules_install

    for module in (
        "mqaflow.migrations.0002_defaults",
        "mqaflow.migrations.0016_worked_example_defaults",
        "plays.migrations.0002_defaults",
        "plays.migrations.0004_defaults_history_and_prospect_email",
    ):
        importlib.import_module(module).install(apps, None)
    schedules_install()


@pytest.fixture(autouse=True)
def _broker_breaker_closed():
    """A test that took the broker down must not make the next one skip publishing."""
    from mqaflow import broker

    broker.reset()
    yield
    broker.reset()


@pytest.fixture
def broker():
    """A real Redis broker for process tests: tasks are published, not run eagerly; the
    queue starts and ends empty."""
    import redis
    from django.conf import settings

    from config.celery import app

    app.conf.task_always_eager = False
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    app.conf.task_always_eager = True
