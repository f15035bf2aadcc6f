"""Overlapping event batches posted at once, each request on its own PostgreSQL connection."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from mqaflow.models import EngagementEvent
from mqaflow.tokens import token_issue
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 8
EVENTS = 200
ROUNDS = 3


def _batch(prefix: str, domains: list[str]) -> list[dict]:
    base = datetime.now(UTC) - timedelta(hours=1)
    return [
        {
            "id": f"{prefix}-{i}",
            "account": domains[i % len(domains)],
            "activity": "web_visit",
            "occurred_at": (base - timedelta(minutes=i)).isoformat(),
        }
        for i in range(EVENTS)
    ]


def post_concurrently(key: str, batches: list[list[dict]]) -> list[tuple[int, dict | bytes]]:
    """POST each batch from its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(batches), timeout=30)
    answers: list[tuple[int, dict | bytes]] = [None] * len(batches)  # type: ignore[list-item]

    def run(n: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait()
            response = client.post("/api/v1/events/", batches[n], format="json")
            body = response.json() if response.status_code == 201 else response.content
            answers[n] = (response.status_code, body)
        except Exception as exc:  # a 500 propagates out of the test client
            answers[n] = (500, repr(exc).encode())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def test_overlapping_batches_in_different_orders_all_succeed_and_store_each_event_once():
    user = UserFactory(is_staff=True)
    _, key = token_issue(user=user, name="concurrency")
    domains = [a.domain for a in AccountFactory.create_batch(25)]
    rng = random.Random(11)
    for round_ in range(ROUNDS):
        events = _batch(f"r{round_}", domains)
        batches = []
        for _ in range(CLIENTS):
            shuffled = events[:]
            rng.shuffle(shuffled)
            batches.append(shuffled)
        answers = post_concurrently(key, batches)
        assert [code for code, _ in answers] == [201] * CLIENTS, answers
        assert sum(body["created"] for _, body in answers) == EVENTS
        assert sum(body["duplicates"] for _, body in answers) == EVENTS * (CLIENTS - 1)
        stored = EngagementEvent.objects.filter(external_id__startswith=f"r{round_}-")
        assert stored.count() == EVENTS
    assert EngagementEvent.objects.count() == EVENTS * ROUNDS


def test_partly_overlapping_batches_count_what_each_request_stored():
    user = UserFactory(is_staff=True)
    _, key = token_issue(user=user, name="concurrency")
    domains = [a.domain for a in AccountFactory.create_batch(10)]
    rng = random.Random(5)
    for round_ in range(ROUNDS):
        events = _batch(f"p{round_}", domains)
        # Each client sends a different random 60% of the events, shuffled.
        batches = [rng.sample(events, k=int(EVENTS * 0.6)) for _ in range(CLIENTS)]
        answers = post_concurrently(key, batches)
        assert [code for code, _ in answers] == [201] * CLIENTS, answers
        distinct = {e["id"] for batch in batches for e in batch}
        assert sum(body["created"] for _, body in answers) == len(distinct)
        assert sum(body["created"] + body["duplicates"] for _, body in answers) == sum(
            len(b) for b in batches
        )
        stored = EngagementEvent.objects.filter(external_id__startswith=f"p{round_}-")
        assert stored.count() == len(distinct)
