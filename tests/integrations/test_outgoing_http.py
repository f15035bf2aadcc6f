"""Every POST to another system (webhooks, Slack, Teams) goes through mqaflow.http.json_post."""

from mqaflow.http import json_post
from tests.support.webhook_server import WebhookServer

HEADERS = {"Content-Type": "application/json"}


def post(url: str) -> tuple[int | None, str]:
    return json_post(url=url, body=b"{}", headers=HEADERS, timeout=5)


def test_a_redirect_is_an_answer_and_the_body_goes_nowhere_else():
    with WebhookServer() as elsewhere:
        with WebhookServer([("redirect", elsewhere.url)]) as receiver:
            assert post(receiver.url) == (307, "HTTP 307")
        assert len(receiver.requests) == 1
        assert elsewhere.requests == []


def test_answers_and_silences_are_told_apart():
    with WebhookServer([200, 500]) as receiver:
        assert post(receiver.url) == (200, "")
        assert post(receiver.url) == (500, "HTTP 500")
    code, error = post(receiver.url)
    assert code is None and error.startswith("ConnectionRefusedError")
