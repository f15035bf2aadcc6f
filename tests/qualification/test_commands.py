from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mqaflow.models import EngagementEvent, MQAStatus, MQATransition
from mqaflow.qualification.engine import accounts_evaluate
from tests.factories import AccountFactory, ContactFactory, EventFactory, activity

pytestmark = pytest.mark.django_db


def demo(account, when):
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("demo_request"),
        occurred_at=when - timedelta(hours=1),
    )


def test_account_detail_and_history_show_the_decision(api_client):
    now = datetime.now(UTC)
    account = AccountFactory(domain="acme.com", funnel=1)
    demo(account, now)
    accounts_evaluate(account_ids=[account.pk])
    detail = api_client.get("/api/v1/accounts/acme.com/").json()["mqa"]
    assert detail["status"] == "mqa"
    assert detail["act_now_rule"] == "Demo requested"
    assert detail["explanation"].startswith("Act Now: Demo requested")
    history = api_client.get("/api/v1/accounts/acme.com/mqa-history/").json()["results"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [("not_qualified", "mqa")]
    assert api_client.get("/api/v1/accounts/nope.example/mqa-history/").status_code == 404


def test_report_counts_new_mqas_per_period_funnel_and_band(api_client):
    mondays = [datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 9, 10, tzinfo=UTC)]
    for when, funnel, employees in [
        (mondays[0], 1, 50),
        (mondays[0], 1, 60),
        (mondays[0], 2, 5000),
        (mondays[1], 1, 50),
    ]:
        account = AccountFactory(funnel=funnel, employees=employees)
        demo(account, when)
        accounts_evaluate(account_ids=[account.pk], now=when)
    rows = api_client.get("/api/v1/reports/mqas/?period=week&from=2026-03-01&to=2026-03-31").json()
    got = [(r["period"], r["funnel"], r["size_band"], r["count"]) for r in rows["results"]]
    assert got == [
        ("2026-03-02", 1, "small", 2),
        ("2026-03-02", 2, "large", 1),
        ("2026-03-09", 1, "small", 1),
    ]
    monthly = api_client.get("/api/v1/reports/mqas/?period=month").json()["results"]
    assert [(r["period"], r["count"]) for r in monthly] == [("2026-03-01", 3), ("2026-03-01", 1)]
    out = StringIO()
    call_command("mqa_report", "--period", "week", stdout=out)
    assert "2026-03-02" in out.getvalue() and out.getvalue().rstrip().endswith("4")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=year", "period"),
        ("from=yesterday", "from"),
        ("from=2026-02-30", "from"),
        ("from=2026-03-02&to=2026-03-01", "to"),
    ],
)
def test_report_rejects_bad_parameters_naming_them(api_client, query, field):
    response = api_client.get(f"/api/v1/reports/mqas/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_recompute_command_dry_run_writes_nothing_then_real_run_does():
    account = AccountFactory(domain="acme.com", funnel=1)
    demo(account, datetime.now(UTC))
    out = StringIO()
    call_command("recompute_mqa", "--dry-run", stdout=out)
    assert "1 would change" in out.getvalue()
    assert "acme.com: Act Now" in out.getvalue()
    account.refresh_from_db()
    assert account.mqa_status == MQAStatus.NOT_QUALIFIED and account.last_evaluated_at is None
    assert not MQATransition.objects.exists()

    out = StringIO()
    call_command("recompute_mqa", "--account", "ACME.com", stdout=out)
    assert "1 changed" in out.getvalue()
    assert "Funnel 1 (target): not_qualified → mqa: 1" in out.getvalue()
    with pytest.raises(CommandError, match="--account"):
        call_command("recompute_mqa", "--account", "missing.example")


def test_reweight_applies_current_weights_to_history():
    account = AccountFactory()
    vp = ContactFactory(account=account, seniority="vp")
    web = activity("web_visit")
    event = EventFactory(account=account, contact=vp, activity=web, minutes=Decimal(1))
    anonymous = EventFactory(account=account, activity=web, minutes=Decimal(1))
    web.minutes = Decimal(3)
    web.save()
    call_command("reweight_events", "--activity", "web_visit", stdout=StringIO())
    minutes = dict(EngagementEvent.objects.values_list("pk", "minutes"))
    assert minutes[event.pk] == Decimal("6.00")  # 3 minutes × VP multiplier 2
    assert minutes[anonymous.pk] == Decimal("3.00")
    with pytest.raises(CommandError, match="--since"):
        call_command("reweight_events", "--since", "soon")


def test_periodic_tasks_are_installed_as_interval_schedules():
    from django_celery_beat.models import PeriodicTask

    tasks = {t.task: t for t in PeriodicTask.objects.select_related("interval")}
    assert tasks["mqaflow.tasks.recompute_all"].interval.every == 15 * 60
    assert tasks["mqaflow.tasks.recompute_pending"].interval.every == 60
    # Only what must run at a time of the week people expect is a crontab (the digest).
    from config.schedules import CRONTAB_TASKS

    weekly = {task for _, task, _ in CRONTAB_TASKS}
    assert all(t.crontab_id is None for name, t in tasks.items() if name not in weekly)


def test_catch_up_task_finds_accounts_with_unevaluated_events():
    from mqaflow.tasks import recompute_pending

    account = AccountFactory(funnel=1)
    demo(account, datetime.now(UTC))
    account.last_event_ingested_at = datetime.now(UTC)
    account.save()
    assert recompute_pending() == 1
    account.refresh_from_db()
    assert account.mqa_status == MQAStatus.MQA
    assert recompute_pending() == 0
