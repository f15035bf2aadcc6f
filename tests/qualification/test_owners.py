import pytest
from django.core.exceptions import ValidationError

from tests.factories import OwnerFactory

pytestmark = pytest.mark.django_db


def test_chain_is_walked_up_to_the_top_in_order(org):
    ceo, vp, mgr, adr = (org[role] for role in ("ceo", "vp", "mgr", "adr"))
    assert adr.chain_ids() == [adr.pk, mgr.pk, vp.pk, ceo.pk]
    assert adr.managers() == [mgr, vp, ceo]
    assert ceo.managers() == []


def test_subtree_contains_reports_of_reports(org):
    vp, mgr, adr, peer = (org[role] for role in ("vp", "mgr", "adr", "peer"))
    other = OwnerFactory(name="Other ADR", manager=vp)
    assert vp.subtree_ids() == {vp.pk, mgr.pk, adr.pk, peer.pk, other.pk}
    assert adr.subtree_ids() == {adr.pk}


def test_making_a_report_your_manager_is_rejected_as_a_cycle(org):
    ceo, adr = org["ceo"], org["adr"]
    ceo.manager = adr
    with pytest.raises(ValidationError) as err:
        ceo.full_clean()
    assert "manager" in err.value.message_dict
    assert "cycle" in err.value.message_dict["manager"][0]


def test_being_your_own_manager_is_rejected(org):
    ceo = org["ceo"]
    ceo.manager = ceo
    with pytest.raises(ValidationError) as err:
        ceo.full_clean()
    assert "manager" in err.value.message_dict


def test_defaults_are_installed_by_migration():
    from mqaflow.models import ActivityType, ActNowRule, MQARule

    keys = set(ActivityType.objects.values_list("key", flat=True))
    assert {"web_visit", "demo_request", "meeting_requested", "executive_dinner"} <= keys
    assert MQARule.objects.filter(is_active=True).count() == 6
    assert ActNowRule.objects.count() == 2
