"""Signed webhooks through the transactional outbox, delivered to a real local HTTP server:
events are written with the change (and vanish with a rollback), signatures verify with
the snippet in docs/integrations.md, 5xx and timeouts are retried with backoff, a 4xx is
not, 24 h of failures disable the endpoint and tell the admins, resend keeps the event id."""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import Client

from integrations.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint
from integrations.services import delivery_claim, webhooks_sweep
from mqaflow.models import MQAStatus
from mqaflow.qualification.engine import accounts_evaluate
from plays import assignment, services
from plays.escalation import escalations_sweep
from plays.models import DismissReason, Play
from tests.factories import UserFactory, org_chart, qualified_plays
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def documented_verifier():
    """The verification snippet exactly as docs/integrations.md shows it."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    [snippet] = [b for b in blocks if "def verify_mqaflow_signature" in b]
    namespace: dict = {}
    exec(snippet, namespace)
    return namespace["verify_mqaflow_signature"]


def endpoint(server, **kwargs):
    return WebhookEndpoint.objects.create(name="CRM", url=server.url, **kwargs)


def test_a_play_lifecycle_is_posted_signed_in_order(django_capture_on_commit_callbacks):
    people = org_chart()
    with WebhookServer() as server:
        hook = endpoint(server)
        with django_capture_on_commit_callbacks(execute=True):
            [play] = qualified_plays(people["adr"], 1, T0)
        with django_capture_on_commit_callbacks(execute=True):
            services.play_start(play=play, by=people["adr"].user)
        with django_capture_on_commit_callbacks(execute=True):
            services.play_complete(play=play, by=people["adr"].user)
    # Deliveries are concurrent, so order is not promised; within one request it is the
    # order of the changes, and these came one request after another.
    assert sorted(server.types()[:2]) == ["account.qualified", "play.created"]
    assert server.types()[2:] == ["play.started", "play.completed"]
    verify = documented_verifier()
    for request in server.requests:
        header = request["headers"]["Mqaflow-Signature"]
        assert verify(hook.secret, header, request["body"])
        assert not verify("whsec_wrong", header, request["body"])
        assert not verify(hook.secret, header, request["body"] + b" ")
        body = json.loads(request["body"])
        assert body["id"] == request["headers"]["Mqaflow-Event-Id"]
    created = next(json.loads(r["body"]) for r in server.requests if b'"play.created"' in r["body"])
    assert created["type"] == "play.created"
    assert created["data"]["play"]["id"] == play.pk
    assert created["data"]["play"]["account"]["domain"] == play.account.domain
    assert created["data"]["play"]["assignee"]["email"] == people["adr"].email
    assert created["data"]["play"]["url"].endswith(f"/plays/{play.pk}/")
    started = json.loads(server.requests[2]["body"])
    assert started["data"]["by"] == people["adr"].user.email
    assert WebhookDelivery.objects.filter(status="delivered").count() == 4
    assert len(set(server.event_ids())) == 4


def test_an_old_or_forged_signature_is_refused_by_the_snippet():
    from integrations.signing import signature_header

    verify = documented_verifier()
    body = b'{"id":"x"}'
    now = int(time.time())
    assert verify("s3cret", signature_header("s3cret", now, body), body)
    assert not verify("s3cret", signature_header("s3cret", now - 3600, body), body)
    assert not verify("s3cret", f"t={now},v1=00", body)


def test_a_rolled_back_change_leaves_no_event(django_capture_on_commit_callbacks):
    people = org_chart()
    [play] = qualified_plays(people["adr"], 1, T0)
    with WebhookServer() as server:
        endpoint(server)
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError, match="after the start"),
            transaction.atomic(),
        ):
            services.play_start(play=play, by=people["adr"].user)
            raise RuntimeError("the request failed after the start")
    assert server.requests == []
    assert not OutboxEvent.objects.exists()
    play.refresh_from_db()
    assert play.status == "pending"


def test_every_play_event_type(django_capture_on_commit_callbacks, settings):
    people = org_chart()
    peer = people["peer"]
    with WebhookServer() as server:
        endpoint(server)
        with django_capture_on_commit_callbacks(execute=True):
            [play, other] = qualified_plays(people["adr"], 2, T0)
            assignment.play_reassign(play=play, by=people["mgr"].user, to_owner=peer)
            services.play_dismiss(
                play=play,
                by=people["mgr"].user,
                reason=DismissReason.objects.get(slug="wrong-fit"),
            )
            account = other.account
            account.excluded, account.excluded_reason = True, "Competitor"
            account.save()
            accounts_evaluate(account_ids=[account.pk])
        with django_capture_on_commit_callbacks(execute=True):
            [late] = qualified_plays(people["adr"], 1, T0)
        with (
            time_machine.travel(T0 + timedelta(hours=30), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            escalations_sweep()
    types = server.types()
    assert {
        "account.qualified",
        "account.disqualified",
        "play.created",
        "play.reassigned",
        "play.dismissed",
        "play.withdrawn",
        "play.escalated",
    } <= set(types)
    bodies = {json.loads(r["body"])["type"]: json.loads(r["body"]) for r in server.requests}
    assert bodies["play.reassigned"]["data"]["play"]["assignee"]["email"] == peer.email
    assert bodies["play.dismissed"]["data"]["play"]["dismissed_reason"] == "wrong-fit"
    assert "Competitor" in bodies["play.withdrawn"]["data"]["play"]["withdrawn_reason"]
    assert bodies["account.disqualified"]["data"]["to_status"] == MQAStatus.EXCLUDED
    escalated = bodies["play.escalated"]["data"]
    assert escalated["play"]["id"] == late.pk
    assert escalated["escalation"]["recipient"] == people["mgr"].email


def test_an_endpoint_gets_only_its_event_types(django_capture_on_commit_callbacks):
    people = org_chart()
    with WebhookServer() as server:
        endpoint(server, event_types=["play.started"])
        with django_capture_on_commit_callbacks(execute=True):
            [play] = qualified_plays(people["adr"], 1, T0)
            services.play_start(play=play, by=people["adr"].user)
    assert server.types() == ["play.started"]


def test_500_then_200_is_retried_with_backoff_and_delivered_once(
    django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    people = org_chart()
    with WebhookServer([500, 503, 200]) as server:
        hook = endpoint(server, event_types=["play.created"])
        with (
            time_machine.travel(T0, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            qualified_plays(people["adr"], 1, T0)
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.last_response_code == 500
        assert delivery.next_attempt_at == T0 + timedelta(seconds=30)
        hook.refresh_from_db()
        assert hook.failing_since == T0
        with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
            assert webhooks_sweep() == 0  # not due yet
        with time_machine.travel(T0 + timedelta(seconds=31), tick=False):
            assert webhooks_sweep() == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == T0 + timedelta(seconds=31 + 60)  # doubled
        with time_machine.travel(T0 + timedelta(seconds=95), tick=False):
            webhooks_sweep()
        with time_machine.travel(T0 + timedelta(hours=1), tick=False):
            assert webhooks_sweep() == 0
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert len(server.requests) == 3 and len(set(server.event_ids())) == 1
    assert [r["headers"]["Mqaflow-Delivery-Attempt"] for r in server.requests] == ["1", "2", "3"]
    log = list(DeliveryAttempt.objects.order_by("at").values_list("outcome", "response_code"))
    assert log == [("retry", 500), ("retry", 503), ("delivered", 200)]
    hook.refresh_from_db()
    assert hook.failing_since is None and hook.is_active


def test_a_hanging_receiver_times_out_and_is_retried(django_capture_on_commit_callbacks, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    people = org_chart()
    with WebhookServer([("hang", 3), 200]) as server:
        endpoint(server, event_types=["play.created"])
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            qualified_plays(people["adr"], 1, T0)
        assert time.monotonic() - started < 2.5
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.last_response_code is None
        assert "timed out" in delivery.last_error.lower()
        attempt = DeliveryAttempt.objects.get()
        assert attempt.outcome == "retry" and 400 <= attempt.duration_ms < 2500
        with time_machine.travel(delivery.next_attempt_at, tick=False):
            webhooks_sweep()
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(server.requests) == 2 and len(set(server.event_ids())) == 1


@pytest.mark.parametrize("code, retried", [(400, False), (410, False), (429, True), (408, True)])
def test_a_4xx_is_final_except_408_and_429(django_capture_on_commit_callbacks, code, retried):
    people = org_chart()
    with WebhookServer([code, 200]) as server:
        endpoint(server, event_types=["play.created"])
        with django_capture_on_commit_callbacks(execute=True):
            qualified_plays(people["adr"], 1, T0)
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == ("pending" if retried else "failed")
        with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=False):
            webhooks_sweep()
    delivery.refresh_from_db()
    assert delivery.status == ("delivered" if retried else "failed")
    assert len(server.requests) == (2 if retried else 1)
    assert delivery.last_response_code == (200 if retried else code)


def test_a_day_of_failures_disables_the_endpoint_and_tells_the_admins(
    django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = [("Admins", "ops@seller.example")]
    people = org_chart()
    with WebhookServer([500]) as server:
        hook = endpoint(server, event_types=["play.created"])
        with (
            time_machine.travel(T0, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            qualified_plays(people["adr"], 1, T0)
        moment = T0
        while moment < T0 + timedelta(hours=25):
            moment += timedelta(minutes=30)
            with (
                time_machine.travel(moment, tick=False),
                django_capture_on_commit_callbacks(execute=True),
            ):
                webhooks_sweep()
        attempts = len(server.requests)
    hook.refresh_from_db()
    assert not hook.is_active and hook.disabled_at is not None
    assert "24 h" in hook.disabled_reason
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "gave up" in delivery.last_error
    # backoff: far fewer attempts than sweeps (50), at most an hour apart at the end
    assert 5 < attempts < 40
    [message] = [m for m in mail.outbox if "Webhook" in m.subject]
    assert message.to == ["ops@seller.example"] and "CRM" in message.subject
    assert server.url in message.body


def test_admin_shows_the_log_and_resends_with_the_same_event_id(
    django_capture_on_commit_callbacks,
):
    people = org_chart()
    with WebhookServer([400, 200]) as server:
        hook = endpoint(server, event_types=["play.created"])
        with django_capture_on_commit_callbacks(execute=True):
            qualified_plays(people["adr"], 1, T0)
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "failed"
        client = Client()
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        page = client.get(f"/admin/integrations/deliveryattempt/?endpoint__id__exact={hook.pk}")
        assert page.status_code == 200 and "400" in page.content.decode()
        page = client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/")
        assert str(delivery.event.event_id) in page.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/admin/integrations/webhookdelivery/",
                {"action": "resend", "_selected_action": [delivery.pk]},
            )
        assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(server.requests) == 2 and len(set(server.event_ids())) == 1


def test_a_delivery_is_claimed_once():
    people = org_chart()
    with WebhookServer() as server:
        endpoint(server, event_types=["play.created"])
        qualified_plays(people["adr"], 1, T0)  # on_commit never runs: nothing sent yet
    delivery = WebhookDelivery.objects.get()
    assert delivery_claim(delivery_id=delivery.pk) is True
    assert delivery_claim(delivery_id=delivery.pk) is False  # a second worker, a second beat


def test_no_endpoint_no_outbox_rows():
    people = org_chart()
    qualified_plays(people["adr"], 3, T0)
    assert Play.objects.count() == 3
    assert not OutboxEvent.objects.exists()
