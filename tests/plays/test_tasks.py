"""Task names are stored in queued messages and beat rows: renamed tasks keep their old
name registered."""

import pytest

from mqaflow.qualification.engine import accounts_evaluate
from plays.models import Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, OwnerFactory, activity

pytestmark = pytest.mark.django_db


def test_a_message_queued_under_the_old_task_name_still_delivers_the_notice():
    from celery import current_app

    import plays.tasks

    account = AccountFactory(funnel=1, owner=OwnerFactory())
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, seniority="vp"),
        activity=activity("demo_request"),
    )
    accounts_evaluate(account_ids=[account.pk])
    notice = Play.objects.get(account=account).notices.get(kind="assigned")
    old = current_app.tasks["plays.tasks.deliver_escalation"]
    assert plays.tasks.notice_deliver.name == "plays.tasks.notice_deliver"
    assert old.apply(args=[notice.pk]).get() == "sent"
    notice.refresh_from_db()
    assert notice.status == "sent"
