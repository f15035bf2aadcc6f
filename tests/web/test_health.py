from datetime import timedelta

import pytest
from django.utils import timezone

from mqaflow.heartbeat import heartbeat
from mqaflow.models import Heartbeat
from plays.escalation import escalations_sweep

pytestmark = pytest.mark.django_db


def beat_all(at):
    for name in ("escalations_sweep", "recompute_pending", "recompute_all"):
        with heartbeat(name, now=at):
            pass


def test_health_is_ok_when_jobs_ran_recently(client):
    beat_all(timezone.now())
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "ok",
        "escalations_sweep": "ok",
        "recompute_pending": "ok",
        "recompute_all": "ok",
    }


def test_health_reports_a_stale_sweep_with_503(client):
    beat_all(timezone.now())
    Heartbeat.objects.filter(name="escalations_sweep").update(
        last_ok_at=timezone.now() - timedelta(minutes=20)
    )
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["escalations_sweep"].startswith("last succeeded 1200 s ago")


def test_health_reports_jobs_that_never_ran(client):
    body = client.get("/health/").json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["recompute_all"] == "has not run yet"


def test_the_sweep_records_its_heartbeat_and_failures(monkeypatch):
    escalations_sweep()
    beat = Heartbeat.objects.get(name="escalations_sweep")
    assert beat.last_ok_at is not None and beat.last_error == ""
    succeeded_at = beat.last_ok_at

    def broken(*, now):
        raise RuntimeError("absences table is gone")

    monkeypatch.setattr("plays.assignment.absences_apply", broken)
    with pytest.raises(RuntimeError):
        escalations_sweep()
    beat.refresh_from_db()
    assert beat.last_error == "RuntimeError: absences table is gone"
    assert beat.last_error_at is not None and beat.last_ok_at == succeeded_at


@pytest.fixture
def real_broker():
    from config.celery import app

    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True


def test_health_checks_the_real_broker(client, real_broker, monkeypatch):
    beat_all(timezone.now())
    assert client.get("/health/").json()["checks"]["broker"] == "ok"
    connect = real_broker.connection_for_write
    monkeypatch.setattr(
        real_broker, "connection_for_write", lambda: connect(url="redis://127.0.0.1:1/0")
    )
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] != "ok"
