"""Rule sets as versions: copy the live set into a draft, edit it without touching anything
live, compare, promote (with a preview that is exactly what promotion does), promote back."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from mqaflow.models import (
    Account,
    ActivityType,
    ActivityWeight,
    ActNowRule,
    BandwidthPeriod,
    EngagementEvent,
    MQAClause,
    MQARule,
    MQATransition,
    RuleSet,
    SeniorityWeight,
    SizeBand,
)
from mqaflow.qualification.engine import accounts_evaluate
from mqaflow.qualification.rulebook import Rulebook, clause_scope
from mqaflow.qualification.sql import DecisionQuery
from mqaflow.rulesets import PROMOTED, RuleSetError, rule_set_copy, rule_set_diff, rule_set_promote
from plays.models import Play
from tests.factories import AccountFactory, ContactFactory, EventFactory, UserFactory, activity

pytestmark = pytest.mark.django_db


def f2_account(minutes: int = 40, **fields):
    """A Funnel 2 account of 500 employees with `minutes` from two people: under the live
    threshold (60 minutes from 2 people in 60 days)."""
    account = AccountFactory(funnel=2, employees=500, **fields)
    for share in (minutes // 2, minutes - minutes // 2):
        EventFactory(account=account, contact=ContactFactory(account=account), minutes=share)
    return account


def f2_clause(rule_set: RuleSet) -> MQAClause:
    """The segment's original clause (minutes from two people), not the worked example's."""
    return MQAClause.objects.get(
        rule__rule_set=rule_set, rule__funnel=2, rule__size_band__slug="large", order=1
    )


def lower_f2(draft: RuleSet, minutes: int = 30) -> None:
    clause = f2_clause(draft)
    clause.min_minutes = Decimal(minutes)
    clause.save()


def test_the_migrated_rules_form_the_one_live_set():
    live = RuleSet.objects.get(status="live")
    assert MQARule.objects.exclude(rule_set=live).count() == 0
    assert SizeBand.objects.filter(rule_set=live).count() == 2
    assert ActNowRule.objects.filter(rule_set=live).exists()


def test_copy_holds_every_row_and_the_weights_and_differs_in_nothing():
    live = RuleSet.objects.live()
    BandwidthPeriod.objects.create(
        name="December", starts_on="2026-12-01", ends_on="2026-12-31", factor=Decimal("1.5")
    )
    user = UserFactory(is_staff=True)
    draft = rule_set_copy(source=live, name="Lower F2", user=user)
    assert (draft.status, draft.based_on, draft.created_by) == ("draft", live, user)
    for model in (SizeBand, MQARule, ActNowRule, BandwidthPeriod):
        assert (
            model.objects.filter(rule_set=draft).count()
            == model.objects.filter(rule_set=live).count()
        )
    assert (
        MQAClause.objects.filter(rule__rule_set=draft).count()
        == MQAClause.objects.filter(rule__rule_set=live).count()
    )
    # a copied rule points at the copy's own size band
    assert not MQARule.objects.filter(rule_set=draft).exclude(size_band__rule_set=draft).exists()
    assert ActivityWeight.objects.filter(rule_set=draft).count() == ActivityType.objects.count()
    assert SeniorityWeight.objects.filter(rule_set=draft).exists()
    assert rule_set_diff(draft=draft) == []
    assert draft.history.count() == 1


def test_diff_lists_each_changed_value_side_by_side():
    draft = rule_set_copy(source=RuleSet.objects.live())
    lower_f2(draft, 30)
    weight = ActivityWeight.objects.get(rule_set=draft, activity__key="webinar_attended")
    weight.minutes = Decimal(45)
    weight.save()
    ActNowRule.objects.filter(rule_set=draft, activity__key="demo_request").delete()
    rows = {(r.section, r.field): r for r in rule_set_diff(draft=draft)}
    clause = rows[("MQA rules", "min minutes")]
    assert (clause.live, clause.draft) == ("60", "30")
    assert "Funnel 2 (large)" in clause.item
    webinar = rows[("Activity minutes", "minutes")]
    assert (webinar.item, webinar.live, webinar.draft) == ("webinar_attended", "30", "45")
    removed = rows[("Act Now rules", "(whole item)")]
    assert removed.draft == "—" and "demo_request" not in removed.live  # shown by name
    assert len(rows) == 3


def test_editing_a_draft_in_admin_changes_nothing_live(
    admin_client, django_capture_on_commit_callbacks
):
    account = f2_account(40)
    stored = Account.objects.filter(pk=account.pk).values
    before = stored()[0]
    draft = rule_set_copy(source=RuleSet.objects.live())
    rule = MQARule.objects.get(rule_set=draft, funnel=2, size_band__slug="large")
    clauses = list(rule.clauses.order_by("order"))
    data = {
        "name": rule.name,
        "funnel": 2,
        "size_band": rule.size_band_id,
        "is_active": "on",
        "description": "",
        "clauses-TOTAL_FORMS": len(clauses),
        "clauses-INITIAL_FORMS": len(clauses),
        "clauses-MIN_NUM_FORMS": 0,
        "clauses-MAX_NUM_FORMS": 1000,
    }
    for i, c in enumerate(clauses):
        values = {
            "id": c.pk,
            "rule": rule.pk,
            "order": c.order,
            "name": c.name,
            "window_days": c.window_days,
            "personas": json.dumps(c.personas),
            "min_seniority": c.min_seniority,
            "min_minutes": c.min_minutes,
            "min_people": c.min_people,
            "min_personas": c.min_personas,
            "min_events": c.min_events,
            "require_seniority": c.require_seniority,
            "min_qualified_leads": c.min_qualified_leads,
            "lead_minutes": c.lead_minutes,
        }
        data |= {f"clauses-{i}-{k}": "" if v is None else v for k, v in values.items()}
    data["clauses-0-min_minutes"] = "30"
    clause = clauses[0]
    url = reverse("admin:mqaflow_mqarule_change", args=[rule.pk])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert b"nothing is re-evaluated until it is promoted" in response.content
    clause.refresh_from_db()
    assert clause.min_minutes == Decimal(30)  # the draft did change
    assert callbacks == []  # no recompute asked for
    assert not MQATransition.objects.exists() and not Play.objects.exists()
    assert mail.outbox == []
    assert stored()[0] == before
    assert f2_clause(RuleSet.objects.live()).min_minutes == Decimal(60)


def test_a_draft_decides_with_its_own_thresholds_and_weights_without_writing():
    account = f2_account(40)
    draft = rule_set_copy(source=RuleSet.objects.live())
    now = timezone.now()

    def decided(rule_set):
        query = DecisionQuery(Rulebook(timezone.localdate(now), rule_set), now)
        return {r.account_id: r.status for r in query.rows([account.pk], changed_only=False)}

    assert decided(draft)[account.pk] == "not_qualified"
    # Events credited at ingest with the live weights; the draft's weights count instead.
    EngagementEvent.objects.filter(account=account).update(activity=activity("webinar_attended"))
    ActivityWeight.objects.filter(rule_set=draft, activity__key="webinar_attended").update(
        minutes=Decimal(40)
    )
    assert decided(draft)[account.pk] == "mqa"  # 2 × 40 minutes under the draft's weights
    assert decided(RuleSet.objects.live())[account.pk] == "not_qualified"  # stored 40 minutes
    account.refresh_from_db()
    assert account.mqa_status != "mqa"


def test_preview_counts_are_what_promotion_does_and_promote_back_restores():
    staff = UserFactory(is_staff=True)
    gained = [f2_account(40) for _ in range(3)]
    f2_account(10)  # stays under even the lowered threshold
    accounts_evaluate(cause="schedule")
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live, name="Lower F2")
    lower_f2(draft, 30)

    preview = rule_set_promote(rule_set=draft, user=staff, preview=True)
    assert (preview.status_changes, preview.qualified, preview.plays) == (3, 3, 3)
    assert (preview.rule_set.status, preview.previous.status) == ("draft", "live")
    draft.refresh_from_db()
    live.refresh_from_db()
    assert (draft.status, live.status) == ("draft", "live")  # rolled back
    assert not Play.objects.exists() and not MQATransition.objects.filter(cause=PROMOTED)

    done = rule_set_promote(rule_set=draft, user=staff)
    assert (done.status_changes, done.qualified, done.plays) == (3, 3, 3)
    draft.refresh_from_db()
    live.refresh_from_db()
    assert (draft.status, live.status) == ("live", "retired")
    assert draft.promoted_by == staff and draft.promoted_at is not None
    transitions = MQATransition.objects.filter(cause=PROMOTED, to_status="mqa")
    assert {t.account_id for t in transitions} == {a.pk for a in gained}
    assert Play.objects.filter(account__in=gained).count() == 3
    assert RuleSet.objects.filter(status="live").count() == 1
    assert draft.history.first().history_change_reason.startswith("promoted")
    assert live.history.first().history_change_reason.startswith("retired")

    back = rule_set_promote(rule_set=live, user=staff)
    assert (back.rule_set, back.previous) == (live, draft)
    assert back.disqualified == 3
    live.refresh_from_db()
    assert live.status == "live"
    with pytest.raises(RuleSetError, match="already live"):
        rule_set_promote(rule_set=live)


def test_promoting_other_weights_recredits_stored_events():
    account = f2_account(40)
    EngagementEvent.objects.filter(account=account).update(activity=activity("webinar_attended"))
    draft = rule_set_copy(source=RuleSet.objects.live())
    ActivityWeight.objects.filter(rule_set=draft, activity__key="webinar_attended").update(
        minutes=Decimal(40)
    )
    done = rule_set_promote(rule_set=draft)
    assert done.events_reweighted >= 2
    assert ActivityType.objects.get(key="webinar_attended").minutes == Decimal(40)
    account.refresh_from_db()
    assert account.mqa_status == "mqa"
    # the retired set kept the weights it ran with, and promoting it back restores them
    retired = done.previous
    assert ActivityWeight.objects.get(
        rule_set=retired, activity__key="webinar_attended"
    ).minutes == Decimal(30)
    rule_set_promote(rule_set=retired)
    assert ActivityType.objects.get(key="webinar_attended").minutes == Decimal(30)


def test_admin_copy_diff_and_promote_pages(admin_client):
    f2_account(40)
    live = RuleSet.objects.live()
    response = admin_client.post(
        reverse("admin:mqaflow_ruleset_copy", args=[live.pk]), {"name": "Try lower F2"}
    )
    draft = RuleSet.objects.get(name="Try lower F2")
    assert response.url == reverse("admin:mqaflow_ruleset_change", args=[draft.pk])
    page = admin_client.get(response.url).content.decode()
    assert "Compare with live" in page and "Promote" in page
    assert f"rule_set__id__exact={draft.pk}" in page
    lower_f2(draft, 30)
    diff = admin_client.get(reverse("admin:mqaflow_ruleset_diff", args=[draft.pk]))
    assert b"min minutes" in diff.content and b"<strong>30</strong>" in diff.content
    url = reverse("admin:mqaflow_ruleset_promote", args=[draft.pk])
    preview = admin_client.get(url).content.decode()
    assert '<strong class="status-changes">1</strong>' in preview
    assert '<strong class="plays">1</strong>' in preview
    assert not Play.objects.exists()
    admin_client.post(url)
    draft.refresh_from_db()
    assert draft.status == "live" and Play.objects.count() == 1


def test_retired_rules_are_read_only_in_admin(admin_client):
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live)
    rule_set_promote(rule_set=draft)
    rule = MQARule.objects.filter(rule_set=live).first()
    url = reverse("admin:mqaflow_mqarule_change", args=[rule.pk])
    before = rule.name
    admin_client.post(url, {"name": "changed", "funnel": 1})
    rule.refresh_from_db()
    assert rule.name == before
    page = admin_client.get(url).content.decode()
    assert 'name="name"' not in page  # shown read-only


def test_rules_saved_without_a_set_join_the_live_one():
    rule = MQARule.objects.create(name="Extra", funnel=None, is_active=False)
    assert rule.rule_set == RuleSet.objects.live()


def test_a_band_of_another_set_is_refused():
    draft = rule_set_copy(source=RuleSet.objects.live())
    band = SizeBand.objects.get(rule_set=draft, slug="large")
    rule = MQARule(name="Mixed", funnel=2, size_band=band, is_active=False)
    with pytest.raises(Exception, match="same rule set"):
        rule.full_clean()


def test_promotion_holds_one_live_set_even_when_rolled_back_midway(monkeypatch):
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live)

    def boom(**kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr("mqaflow.rulesets.accounts_evaluate", boom)
    with pytest.raises(RuntimeError):
        rule_set_promote(rule_set=draft)
    live.refresh_from_db()
    draft.refresh_from_db()
    assert (live.status, draft.status) == ("live", "draft")
    assert timezone.now() - draft.created_at < timedelta(minutes=1)


def test_adding_a_rule_from_a_drafts_filtered_list_puts_it_in_the_draft(admin_client):
    draft = rule_set_copy(source=RuleSet.objects.live())
    changelist = reverse("admin:mqaflow_actnowrule_changelist")
    listed = admin_client.get(f"{changelist}?rule_set__id__exact={draft.pk}").content.decode()
    add = reverse("admin:mqaflow_actnowrule_add")
    assert f"{add}?_changelist_filters=rule_set__id__exact%3D{draft.pk}" in listed
    form = admin_client.get(f"{add}?_changelist_filters=rule_set__id__exact%3D{draft.pk}")
    assert form.context["adminform"].form.initial["rule_set"] == str(draft.pk)


def test_a_weight_change_recounts_only_its_own_events_and_keeps_explicit_minutes():
    """A source's explicit minutes on other activities stay as sent, in the draft's
    measurement and after promotion alike."""
    account = f2_account(40)  # 20 + 20 explicit minutes of web visits
    webinar = EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("webinar_attended"),
        minutes=Decimal("30.00"),
    )
    draft = rule_set_copy(source=RuleSet.objects.live())
    ActivityWeight.objects.filter(rule_set=draft, activity__key="webinar_attended").update(
        minutes=Decimal(5)
    )
    now = timezone.now()
    query = DecisionQuery(Rulebook(timezone.localdate(now), draft), now)
    (row,) = query.rows([account.pk], changed_only=False)
    assert query.figures(row, clause_scope(f2_clause(draft))).minutes == Decimal(45)
    done = rule_set_promote(rule_set=draft)
    assert done.events_reweighted == 1
    minutes = dict(EngagementEvent.objects.filter(account=account).values_list("pk", "minutes"))
    assert minutes.pop(webinar.pk) == Decimal(5)
    assert sorted(minutes.values()) == [Decimal(20), Decimal(20)]


def test_same_named_rows_are_compared_one_by_one():
    live = RuleSet.objects.live()
    for factor in ("1.5", "2.0"):
        BandwidthPeriod.objects.create(
            name="December", starts_on="2026-12-01", ends_on="2026-12-31", factor=Decimal(factor)
        )
    draft = rule_set_copy(source=live)
    BandwidthPeriod.objects.filter(rule_set=draft, factor=Decimal("2.0")).update(factor=3)
    (row,) = rule_set_diff(draft=draft)
    assert (row.item, row.live, row.draft) == ("December (2)", "2", "3")


def test_only_a_never_promoted_draft_can_be_deleted_and_promotion_needs_rule_rights(
    admin_client, client
):
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live)
    spare = rule_set_copy(source=live)
    rule_set_promote(rule_set=draft)
    for rule_set in (live, draft):  # retired now, and live
        url = reverse("admin:mqaflow_ruleset_delete", args=[rule_set.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert RuleSet.objects.filter(pk__in=[live.pk, draft.pk]).count() == 2
    url = reverse("admin:mqaflow_ruleset_delete", args=[spare.pk])
    admin_client.post(url, {"post": "yes"})
    assert not RuleSet.objects.filter(pk=spare.pk).exists()

    from django.contrib.auth.models import Permission

    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_ruleset", "change_ruleset"])
    )
    client.force_login(clerk)
    promote = reverse("admin:mqaflow_ruleset_promote", args=[live.pk])
    assert client.post(promote).status_code == 403
    live.refresh_from_db()
    assert live.status == "retired"


def test_decisions_made_under_a_set_promoted_away_meanwhile_are_dropped():
    """A recompute that decided before a promotion committed must not write the retired
    rules' decisions over the promotion's."""
    from mqaflow.qualification.engine import SetPromotedMeanwhile, _changes_for, _record

    account = f2_account(40)
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live)
    MQAClause.objects.filter(pk=f2_clause(live).pk).update(min_minutes=30)  # live says MQA
    now = timezone.now()
    changes = _changes_for([account.pk], now=now, rule_set=live)
    assert [c.decision.status for c in changes] == ["mqa"]
    rule_set_promote(rule_set=draft, now=now)  # the draft (60 minutes) says not
    with pytest.raises(SetPromotedMeanwhile):
        _record(changes, now=now, cause="ingest", rule_set_id=live.pk)
    account.refresh_from_db()
    assert account.mqa_status != "mqa" and not Play.objects.exists()


def test_a_run_overtaken_by_a_promotion_decides_again_under_the_new_set(monkeypatch):
    from mqaflow.qualification import engine

    account = f2_account(40)
    live = RuleSet.objects.live()
    draft = rule_set_copy(source=live)  # keeps 60 minutes: not qualified
    MQAClause.objects.filter(pk=f2_clause(live).pk).update(min_minutes=30)  # live: qualified
    real = engine._changes_for
    decided_under = []

    def overtaken(ids, *, now, rule_set):
        found = real(ids, now=now, rule_set=rule_set)
        decided_under.append(rule_set.pk)
        if len(decided_under) == 1:  # a promotion commits while the first run decides
            rule_set_promote(rule_set=draft, now=now)
        return found

    monkeypatch.setattr(engine, "_changes_for", overtaken)
    result = accounts_evaluate(account_ids=[account.pk], cause="ingest")
    # the first run (old set), the promotion's own run, the first run again (new set)
    assert decided_under == [live.pk, draft.pk, draft.pk]
    account.refresh_from_db()
    assert account.mqa_status != "mqa" and result.transitions == []
    assert not MQATransition.objects.filter(account=account, cause="ingest").exists()


def test_ingest_credits_with_the_weights_in_force_when_it_stores(monkeypatch):
    """Weights are read under the live set's lock in the storing transaction, so a promotion
    that re-credits events cannot leave a concurrent batch on the old weights."""
    from mqaflow import ingest

    account = AccountFactory(funnel=2, employees=500)
    contact = ContactFactory(account=account, seniority="vp")
    real = ingest._store

    def promoted_meanwhile(rows, **kwargs):
        ActivityType.objects.filter(key="webinar_attended").update(minutes=Decimal(40))
        return real(rows, **kwargs)

    monkeypatch.setattr(ingest, "_store", promoted_meanwhile)
    ingest.events_ingest(
        items=[
            {
                "id": "late-1",
                "account": account.domain,
                "contact": contact.email,
                "activity": "webinar_attended",
                "occurred_at": timezone.now().isoformat(),
            },
            {
                "id": "late-2",
                "account": account.domain,
                "activity": "webinar_attended",
                "occurred_at": timezone.now().isoformat(),
                "minutes": 7,
            },
        ]
    )
    stored = dict(EngagementEvent.objects.values_list("external_id", "minutes"))
    assert stored == {"late-1": Decimal(80), "late-2": Decimal(7)}  # VP ×2; explicit kept


def test_minutes_a_source_sent_survive_a_weight_change_in_the_draft_and_on_promotion():
    from mqaflow.ingest import events_ingest

    account = AccountFactory(funnel=2, employees=500)
    people = [ContactFactory(account=account) for _ in range(2)]
    when = (timezone.now() - timedelta(days=1)).isoformat()
    events_ingest(
        items=[
            {"id": "sent", "account": account.domain, "contact": people[0].email,
             "activity": "webinar_attended", "occurred_at": when, "minutes": 12},
            {"id": "credited", "account": account.domain, "contact": people[1].email,
             "activity": "webinar_attended", "occurred_at": when},
        ]
    )  # fmt: skip
    draft = rule_set_copy(source=RuleSet.objects.live())
    ActivityWeight.objects.filter(rule_set=draft, activity__key="webinar_attended").update(
        minutes=Decimal(50)
    )
    now = timezone.now()
    query = DecisionQuery(Rulebook(timezone.localdate(now), draft), now)
    (row,) = query.rows([account.pk], changed_only=False)
    assert query.figures(row, clause_scope(f2_clause(draft))).minutes == Decimal(62)
    assert rule_set_promote(rule_set=draft).events_reweighted == 1
    stored = dict(EngagementEvent.objects.values_list("external_id", "minutes"))
    assert stored == {"sent": Decimal(12), "credited": Decimal(50)}


def test_a_drafts_weights_are_edited_on_its_page_and_the_live_ones_stay(admin_client):
    draft = rule_set_copy(source=RuleSet.objects.live())
    url = reverse("admin:mqaflow_ruleset_change", args=[draft.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = {"name": draft.name, "description": "", "conversion_days": 60}
    for prefix, rows, field in (
        ("activity_weights", ActivityWeight.objects.filter(rule_set=draft), "minutes"),
        ("seniority_weights", SeniorityWeight.objects.filter(rule_set=draft), "multiplier"),
    ):
        rows = list(rows.order_by("pk"))
        form |= {f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)}
        for i, row in enumerate(rows):
            form |= {
                f"{prefix}-{i}-id": row.pk,
                f"{prefix}-{i}-rule_set": draft.pk,
                f"{prefix}-{i}-{field}": getattr(row, field),
            }
            if prefix == "activity_weights" and row.activity.key == "webinar_attended":
                form[f"{prefix}-{i}-minutes"] = "45"
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.conversion_days == 60
    weight = ActivityWeight.objects.get(rule_set=draft, activity__key="webinar_attended")
    assert weight.minutes == Decimal(45)
    assert ActivityType.objects.get(key="webinar_attended").minutes == Decimal(30)
    (row,) = [r for r in rule_set_diff(draft=draft) if r.section == "Activity minutes"]
    assert (row.live, row.draft) == ("30", "45")


def test_mqas_that_stay_mqas_are_explained_by_the_promoted_set():
    account = f2_account(80)  # qualified by the live set (60) and by the draft (30)
    accounts_evaluate(cause="schedule")
    account.refresh_from_db()
    qualified_at, live = account.qualified_at, RuleSet.objects.live()
    assert account.mqa_status == "mqa" and account.mqa_rule.rule_set == live
    draft = rule_set_copy(source=live)
    lower_f2(draft, 30)
    assert rule_set_promote(rule_set=draft).status_changes == 0
    account.refresh_from_db()
    assert account.mqa_rule.rule_set == draft and account.mqa_clause.rule.rule_set == draft
    assert "needs 30" in account.mqa_explanation
    assert account.qualified_at == qualified_at  # still the same MQA for sales
    assert MQATransition.objects.filter(account=account).count() == 1
