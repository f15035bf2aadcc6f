"""The SQL statement decides like the Python rule logic, and what the engine built on it
records: run records with their cause, set-based writes, the catch-up window, the
"why not yet" answer in the API and admin."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqaflow.models import (
    Account,
    ActNowRule,
    BandwidthPeriod,
    MQAClause,
    MQARule,
    MQAStatus,
    MQATransition,
    SizeBand,
)
from mqaflow.models.transitions import RecomputeRun
from mqaflow.qualification.engine import accounts_evaluate, decide, decide_row
from mqaflow.qualification.rulebook import Rulebook
from mqaflow.qualification.sql import DecisionQuery
from mqaflow.selectors import pending_account_ids
from mqaflow.signals import account_disqualified, account_qualified
from tests.factories import AccountFactory, ContactFactory, EventFactory, UserFactory, activity

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)

# -- generated rule sets and event sets ---------------------------------------------------


def optional(values):
    """Mostly absent: a clause with every threshold set rarely passes, and then nothing
    distinguishes one test from another."""
    return st.one_of(st.none(), st.none(), st.sampled_from(values))


clauses = st.fixed_dictionaries(
    {
        "window_days": st.sampled_from([7, 30, 60]),
        # mostly unfiltered, so clauses of different windows share a scope family
        "personas": st.sampled_from([[], [], [], ["it"], ["it", "sales"]]),
        "min_seniority": st.sampled_from(["", "", "", "director", "manager"]),
        "min_minutes": optional([Decimal(0), Decimal(5), Decimal("10.5"), Decimal(30)]),
        "min_people": optional([1, 2, 3]),
        "min_personas": optional([1, 2]),
        "min_events": optional([1, 3]),
        "require_seniority": st.sampled_from(["", "", "vp", "manager"]),
        "leads": optional([(1, Decimal(5)), (2, Decimal(10)), (1, Decimal("2.5"))]),
    }
)
rules = st.lists(
    st.tuples(
        st.sampled_from([None, None, 1, 2, 3]),  # funnel
        st.sampled_from([None, None, "small", "large"]),  # size band
        st.lists(clauses, min_size=0, max_size=4),
    ),
    min_size=0,
    max_size=4,
    unique_by=lambda r: (r[0], r[1]),
)
act_now_rules = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(["demo_request", "content_download"]),
            "min_people": st.sampled_from([1, 2]),
            "window_days": st.sampled_from([7, 30]),
            "min_seniority": st.sampled_from(["", "director"]),
        }
    ),
    max_size=2,
)
events = st.lists(
    st.tuples(
        st.integers(0, 3),  # contact index; 3 = anonymous
        st.sampled_from(["web_visit", "content_download", "demo_request"]),
        st.sampled_from([Decimal(0), Decimal(1), Decimal("2.5"), Decimal(10), Decimal(30)]),
        # whole days hit the window boundaries exactly (and often)
        st.sampled_from([0, 1, 6.5, 7, 7, 8, 29, 30, 30, 31, 59, 60, 60, 61]),
    ),
    min_size=1,
    max_size=14,
)
accounts = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 3]),
        st.sampled_from([50, 199, 200, 5000]),
        st.sampled_from([False, False, False, True]),  # excluded
        st.lists(
            st.tuples(
                st.sampled_from(["it", "sales", "finance"]),
                st.sampled_from(["c_level", "vp", "director", "manager", "individual"]),
            ),
            min_size=1,
            max_size=3,
        ),
        events,
    ),
    min_size=1,
    max_size=4,
)


def _install(rule_specs, act_now_specs, factor) -> None:
    MQARule.objects.update(is_active=False)
    ActNowRule.objects.update(is_active=False)
    bands = {b.slug: b for b in SizeBand.objects.all()}
    for n, (funnel, band, clause_specs) in enumerate(rule_specs):
        rule = MQARule.objects.create(
            name=f"R{n}", funnel=funnel, size_band=bands.get(band) if band else None
        )
        for order, spec in enumerate(clause_specs):
            spec = dict(spec)
            leads = spec.pop("leads")
            if leads:
                spec["min_qualified_leads"], spec["lead_minutes"] = leads
            MQAClause.objects.create(rule=rule, order=order, **spec)
    for n, spec in enumerate(act_now_specs):
        spec = dict(spec)
        ActNowRule.objects.create(name=f"A{n}", activity=activity(spec.pop("key")), **spec)
    if factor is not None:
        BandwidthPeriod.objects.create(
            name="Bandwidth",
            starts_on=NOW.date() - timedelta(days=1),
            ends_on=NOW.date(),
            factor=factor,
        )


def _populate(account_specs) -> list[Account]:
    made = []
    for funnel, employees, excluded, people, evts in account_specs:
        account = AccountFactory(funnel=funnel, employees=employees, excluded=excluded)
        contacts = [ContactFactory(account=account, persona=p, seniority=s) for p, s in people]
        for who, key, minutes, days in evts:
            EventFactory(
                account=account,
                contact=contacts[who] if who < len(contacts) else None,
                activity=activity(key),
                minutes=minutes,
                occurred_at=NOW - timedelta(days=days),
            )
        made.append(account)
    return made


def _key(decision):
    return (
        decision.status,
        decision.rule.pk if decision.rule else None,
        decision.clause.pk if decision.clause else None,
        decision.act_now_rule.pk if decision.act_now_rule else None,
    )


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule_specs=rules,
    act_now_specs=act_now_rules,
    factor=st.sampled_from([None, Decimal("1.5"), Decimal("0.5")]),
    account_specs=accounts,
)
def test_sql_decisions_equal_python_decisions(rule_specs, act_now_specs, factor, account_specs):
    with transaction.atomic():
        _install(rule_specs, act_now_specs, factor)
        made = _populate(account_specs)
        rulebook = Rulebook(NOW.date())
        python = decide(accounts=made, rulebook=rulebook, now=NOW)
        query = DecisionQuery(rulebook, NOW)
        rows = {r.account_id: r for r in query.rows([a.pk for a in made], changed_only=False)}
        assert rows.keys() == python.keys()
        for pk, expected in python.items():
            row = rows[pk]
            # What the statement decided on its own …
            sql = (
                row.status,
                row.rule_id if row.status == "not_qualified" or row.clause_id else None,
                row.clause_id if row.status == "mqa" and not row.act_now_rule_id else None,
                row.act_now_rule_id if row.status == "mqa" else None,
            )
            if row.status == MQAStatus.EXCLUDED:
                sql = (row.status, None, None, None)
            elif row.act_now_rule_id:
                sql = (row.status, None, None, row.act_now_rule_id)
            assert sql == _key(expected), (pk, sql, expected)
            # … and the decision Python rebuilds from its figures, sentence included.
            rebuilt = decide_row(query=query, row=row)
            assert _key(rebuilt) == _key(expected)
            assert rebuilt.explanation == expected.explanation
            assert rebuilt.figures == expected.figures
        # The full-recompute form returns exactly the accounts whose status changes.
        changed = {r.account_id for r in query.rows(None, changed_only=True)}
        assert changed == {pk for pk, d in python.items() if d.status != "not_qualified"}
        transaction.set_rollback(True)


# -- what the engine records ----------------------------------------------------------------


def _demo(account, at=NOW):
    EventFactory(
        account=account,
        contact=ContactFactory(account=account),
        activity=activity("demo_request"),
        occurred_at=at - timedelta(hours=1),
    )


def test_a_run_is_recorded_with_its_cause_and_no_account_row_is_stamped():
    quiet = AccountFactory(funnel=1)
    hot = AccountFactory(funnel=1)
    _demo(hot)
    result = accounts_evaluate(now=NOW, cause="schedule")
    run = RecomputeRun.objects.get()
    assert (run.scope, run.accounts, run.transitions, run.cause) == ("all", 2, 1, "schedule")
    assert run.evaluated_for == NOW and run.finished_at >= run.started_at
    assert [t.cause for t in result.transitions] == ["schedule"]
    assert MQATransition.objects.get(account=hot).cause == "schedule"
    quiet.refresh_from_db()
    hot.refresh_from_db()
    assert quiet.last_evaluated_at is None and hot.last_evaluated_at is None
    accounts_evaluate(account_ids=[quiet.pk], now=NOW, cause="ingest")
    assert RecomputeRun.objects.first().scope == "accounts"
    accounts_evaluate(now=NOW, dry_run=True)
    assert RecomputeRun.objects.count() == 2  # a dry run records nothing


def test_a_full_recompute_forgets_runs_older_than_30_days():
    old = RecomputeRun.objects.create(
        started_at=datetime.now(UTC) - timedelta(days=31),
        finished_at=datetime.now(UTC) - timedelta(days=31),
        evaluated_for=datetime.now(UTC) - timedelta(days=31),
        scope="accounts",
        accounts=1,
        transitions=0,
    )
    accounts_evaluate(account_ids=[], cause="ingest")
    assert RecomputeRun.objects.filter(pk=old.pk).exists()  # only full runs prune
    accounts_evaluate(cause="schedule")
    assert not RecomputeRun.objects.filter(pk=old.pk).exists()
    assert RecomputeRun.objects.count() == 2


def test_set_based_writes_match_what_the_orm_would_store():
    account = AccountFactory(funnel=1, employees=500)
    for persona in ("it", "sales"):
        EventFactory(
            account=account,
            contact=ContactFactory(account=account, persona=persona),
            minutes=Decimal(20),
            occurred_at=NOW - timedelta(days=2),
        )
    [transition] = accounts_evaluate(account_ids=[account.pk], now=NOW).transitions
    account.refresh_from_db()
    assert transition.pk == MQATransition.objects.get().pk
    assert account.mqa_status == "mqa" and account.qualified_at == NOW
    assert account.mqa_rule.name == "Funnel 1 (large)" and account.mqa_clause is not None
    assert account.mqa_figures == {
        "window_days": 30,
        "minutes": 40.0,
        "events": 2,
        "people": 2,
        "personas": 2,
        "top_seniority": "individual",
        "bandwidth_factor": 1.0,
    }
    stored = MQATransition.objects.get()
    assert (stored.funnel, stored.size_band, stored.figures) == (1, "large", account.mqa_figures)
    assert stored.explanation == account.mqa_explanation
    last = account.history.first()
    assert (last.history_type, last.mqa_status) == ("~", "mqa")
    assert last.mqa_rule_id == account.mqa_rule_id

    # Ageing out writes the way back, and the disqualification signal fires in the same run.
    seen = []

    def on_disqualified(sender, transition, **kwargs):
        seen.append((transition.account_id, transition.from_status, transition.pk is not None))

    account_disqualified.connect(on_disqualified)
    try:
        accounts_evaluate(now=NOW + timedelta(days=40))
    finally:
        account_disqualified.disconnect(on_disqualified)
    account.refresh_from_db()
    assert account.mqa_status == "not_qualified" and account.qualified_at is None
    assert account.mqa_rule.name == "Funnel 1 (large)" and account.mqa_clause is None
    assert seen == [(account.pk, "mqa", True)]


def test_a_full_recompute_and_incremental_ones_agree():
    made = []
    for n in range(12):
        account = AccountFactory(funnel=1 + n % 3, employees=50 if n % 2 else 500)
        for k in range(n % 4):
            EventFactory(
                account=account,
                contact=ContactFactory(account=account, persona=["it", "sales", "finance"][k]),
                minutes=Decimal(9 * (n % 5)),
                occurred_at=NOW - timedelta(days=5 * k),
            )
        made.append(account)
    accounts_evaluate(now=NOW)
    full = dict(Account.objects.values_list("pk", "mqa_status"))
    Account.objects.update(mqa_status="not_qualified")
    for account in made:
        accounts_evaluate(account_ids=[account.pk], now=NOW)
    assert dict(Account.objects.values_list("pk", "mqa_status")) == full
    assert "mqa" in full.values() and "not_qualified" in full.values()


def test_catch_up_starts_from_the_last_covering_run():
    old = AccountFactory(funnel=1, last_event_ingested_at=NOW - timedelta(hours=2))
    fresh = AccountFactory(funnel=1, last_event_ingested_at=NOW)
    never = AccountFactory(funnel=1)
    assert set(pending_account_ids()) == {old.pk, fresh.pk}  # nothing covered them yet
    RecomputeRun.objects.create(
        started_at=NOW - timedelta(minutes=30),
        finished_at=NOW - timedelta(minutes=29),
        evaluated_for=NOW - timedelta(minutes=30),
        scope="all",
        accounts=3,
        transitions=0,
    )
    assert pending_account_ids() == [fresh.pk]
    # An incremental run covers only its own accounts: it does not move the start.
    accounts_evaluate(account_ids=[old.pk], now=NOW, cause="ingest")
    assert pending_account_ids() == [fresh.pk]
    assert never.pk not in pending_account_ids()


def test_signal_contract_one_qualified_signal_per_transition_inside_the_transaction():
    accounts = AccountFactory.create_batch(3, funnel=1)
    for account in accounts:
        _demo(account)
    seen = []

    def on_qualified(sender, transition, **kwargs):
        assert sender is MQATransition
        assert transaction.get_connection().in_atomic_block
        assert MQATransition.objects.filter(pk=transition.pk).exists()
        seen.append(transition.account.pk)

    account_qualified.connect(on_qualified)
    try:
        accounts_evaluate(now=NOW, cause="test")
        accounts_evaluate(now=NOW, cause="test")
    finally:
        account_qualified.disconnect(on_qualified)
    assert sorted(seen) == sorted(a.pk for a in accounts)


# -- "why is this account not an MQA yet?" ----------------------------------------------------


def test_explain_endpoint_answers_for_an_account_whose_status_did_not_change(api_client):
    account = AccountFactory(domain="acme.com", funnel=1, employees=500)
    EventFactory(
        account=account,
        contact=ContactFactory(account=account, persona="it"),
        minutes=Decimal(25),
        occurred_at=datetime.now(UTC) - timedelta(days=1),
    )
    accounts_evaluate(account_ids=[account.pk])
    body = api_client.get("/api/v1/accounts/ACME.com/explain/").json()
    assert body["stored_status"] == body["status"] == "not_qualified"
    assert body["explanation"] == (
        "Not qualified under Funnel 1 (large): 25 minutes from 1 person in the last 30 days "
        "(needs 30 from 2) or 25 minutes from 1 person, most senior Individual contributor "
        "in the last 30 days (needs 60 from 1, a VP or above)."
    )
    assert body["rule"] == "Funnel 1 (large)" and body["figures"]["people"] == 1
    assert not Account.objects.get(pk=account.pk).mqa_explanation  # nothing written
    assert api_client.get("/api/v1/accounts/missing.example/explain/").status_code == 404


def test_explain_endpoint_needs_authentication(client):
    AccountFactory(domain="acme.com")
    assert client.get("/api/v1/accounts/acme.com/explain/").status_code == 401


def test_admin_shows_the_decision_now_and_the_runs(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    account = AccountFactory(funnel=1, employees=500)
    accounts_evaluate(cause="manual")
    page = client.get(reverse("admin:mqaflow_account_change", args=[account.pk]))
    assert b"Decision now" in page.content
    assert b"Not qualified under Funnel 1 (large): 0 minutes from 0 people" in page.content
    runs = client.get(reverse("admin:mqaflow_recomputerun_changelist"))
    assert runs.status_code == 200 and b"manual" in runs.content


def test_health_shows_the_last_recompute(client):
    accounts_evaluate(cause="schedule")
    body = client.get("/health/").json()
    assert body["last_recompute"]["cause"] == "schedule"
    assert body["last_recompute"]["scope"] == "all"


def test_contacts_and_events_of_other_accounts_do_not_leak_into_an_incremental_run():
    a = AccountFactory(funnel=1, employees=500)
    b = AccountFactory(funnel=1, employees=500)
    for persona in ("it", "sales"):
        EventFactory(
            account=b,
            contact=ContactFactory(account=b, persona=persona),
            minutes=Decimal(30),
            occurred_at=NOW - timedelta(days=1),
        )
    assert accounts_evaluate(account_ids=[a.pk], now=NOW).transitions == []
    assert len(accounts_evaluate(account_ids=[b.pk], now=NOW).transitions) == 1
