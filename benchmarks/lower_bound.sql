-- The lower bound for a full recompute with the default rules (migrations 0002 and
-- worked_example_defaults, docs/rules.md): one hand-written statement computing, for every
-- account, the figures the engine decides on (funnel 1: 30 days, funnels 2 and 3: 60 days;
-- minutes, events, distinct people, distinct personas, top seniority as a 1-based rank:
-- 1 c_level, 2 vp, 3 director; the two Act Now rules) and the status they give. Each
-- funnel's two clauses are OR-ed: the source's thresholds and its worked example's.
-- benchmarks/mqa.py times it against the engine and checks that both decide alike.
-- Parameters: %(now)s, %(since30)s, %(since60)s, %(demo)s, %(meeting)s (activity ids).
WITH measured AS (
    SELECT e.account_id,
           SUM(e.minutes) FILTER (WHERE e.occurred_at >= %(since30)s) AS minutes30,
           COUNT(*) FILTER (WHERE e.occurred_at >= %(since30)s) AS events30,
           COUNT(DISTINCT e.contact_id) FILTER (WHERE e.occurred_at >= %(since30)s) AS people30,
           COUNT(DISTINCT c.persona) FILTER (WHERE e.occurred_at >= %(since30)s) AS personas30,
           MIN(array_position(ARRAY['c_level','vp','director','manager','individual']::varchar[],
                              c.seniority)) FILTER (WHERE e.occurred_at >= %(since30)s) AS top30,
           SUM(e.minutes) AS minutes60,
           COUNT(*) AS events60,
           COUNT(DISTINCT e.contact_id) AS people60,
           COUNT(DISTINCT c.persona) AS personas60,
           MIN(array_position(ARRAY['c_level','vp','director','manager','individual']::varchar[],
                              c.seniority)) AS top60
    FROM mqaflow_engagementevent e
    LEFT JOIN mqaflow_contact c ON c.id = e.contact_id
    WHERE e.occurred_at >= %(since60)s AND e.occurred_at <= %(now)s
    GROUP BY e.account_id
), act_now AS (
    SELECT e.account_id
    FROM mqaflow_engagementevent e
    LEFT JOIN mqaflow_contact c ON c.id = e.contact_id
    WHERE e.occurred_at >= %(since30)s AND e.occurred_at <= %(now)s
      AND (e.activity_id = %(demo)s
           OR (e.activity_id = %(meeting)s AND c.seniority IN ('c_level', 'vp', 'director')))
    GROUP BY e.account_id
)
SELECT a.id,
       CASE
           WHEN a.excluded THEN 'excluded'
           WHEN n.account_id IS NOT NULL THEN 'mqa'
           WHEN a.funnel = 1 AND (
                (COALESCE(m.people30, 0) >= 2
                 AND COALESCE(m.minutes30, 0) >= CASE WHEN a.employees < 200 THEN 15 ELSE 30 END)
                OR (COALESCE(m.people30, 0) >= 1 AND m.top30 <= 2
                    AND COALESCE(m.minutes30, 0) >= CASE WHEN a.employees < 200 THEN 30 ELSE 60 END))
               THEN 'mqa'
           WHEN a.funnel = 2 AND (
                (COALESCE(m.people60, 0) >= 2
                 AND COALESCE(m.minutes60, 0) >= CASE WHEN a.employees < 200 THEN 30 ELSE 60 END)
                OR (COALESCE(m.people60, 0) >= 2 AND COALESCE(m.personas60, 0) >= 2
                    AND m.top60 <= 3
                    AND COALESCE(m.minutes60, 0) >= CASE WHEN a.employees < 200 THEN 6 ELSE 12 END))
               THEN 'mqa'
           WHEN a.funnel = 3 AND (
                (COALESCE(m.people60, 0) >= 3
                 AND COALESCE(m.minutes60, 0) >= CASE WHEN a.employees < 200 THEN 50 ELSE 100 END)
                OR (COALESCE(m.people60, 0) >= 4 AND m.top60 <= 2
                    AND COALESCE(m.minutes60, 0) >= CASE WHEN a.employees < 200 THEN 37.5 ELSE 75 END))
               THEN 'mqa'
           ELSE 'not_qualified'
       END AS status,
       m.minutes30, m.events30, m.people30, m.personas30, m.top30,
       m.minutes60, m.events60, m.people60, m.personas60, m.top60
FROM mqaflow_account a
LEFT JOIN measured m ON m.account_id = a.id
LEFT JOIN act_now n ON n.account_id = a.id
