"""Voice-of-the-customer marts on the session's real pipeline run over tests/fixtures/landing.

The fixture folder holds a follow-up events file (`followups/2025-03.csv`) and two action plan
files (`action_plans/2025-03.csv`, and `2025-04.csv` updating one item), besides the survey
files. Expected values are worked out by hand from those files (see the comments).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from tests.conftest import CliRun


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_comment_themes_on_the_fixture_comments(fixture_run: CliRun) -> None:
    rows = set(
        query(fixture_run.warehouse, "select response_id, theme from marts.fct_comment_themes")
    )
    assert rows == {
        ("F0001", "staff"),  # "Great staff"
        ("F0004", "waiting_time"),  # "Long wait, again"
        ("F0005", "staff"),  # "Rude"
        ("F0101", "delivery"),  # "Fast delivery"
        ("F0102", "delivery"),  # "Llegó tarde" (es: llegó = arrived)
        ("F0201", "app_website"),  # "Świetna aplikacja" (pl)
        ("F0202", "app_website"),  # "Crashes"
    }


def test_theme_drivers_month_segments_and_trend(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select period_start, responses, commented_responses, detractor_comments, mentions, "
        "detractor_mentions, detractor_comment_share, nps_mentioning, previous_mentions, "
        "mentions_change from marts.nps_theme_drivers "
        "where segment_type = 'all' and theme = 'waiting_time' order by period_start",
    )
    # February: the 3 Parquet rows (no comments); March: 12 accepted responses, of which 11
    # with a comment (F0002's is empty), 4 detractors with a comment (F0004, F0005, F0102,
    # F0202); one waiting_time mention, a detractor (F0004, score 6).
    assert rows == [
        (date(2025, 2, 1), 3, 0, 0, 0, 0, None, None, None, None),
        (date(2025, 3, 1), 12, 11, 4, 1, 1, 0.25, -100.0, 0, 1),
    ]
    segments = query(
        fixture_run.warehouse,
        "select distinct segment_type, segment from marts.nps_theme_drivers order by 1, 2",
    )
    assert ("all", "all") in segments and ("region", "Randstad") in segments


def test_followup_queue_consent_sla_status(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select response_id, respondent_email, manager_name is not null, sla_hours, "
        "due_at::varchar, status, hours_to_contact, is_contacted_within_sla, is_overdue, themes "
        "from marts.detractor_followup_queue order by response_id",
    )
    # consenting detractors only: F0202 said no, F0403 (Parquet) gave no consent
    assert rows == [
        # SRV-STORE: 48 hours; contacted after 21 hours, then resolved
        (
            "F0004",
            "di@example.com",
            True,
            48,
            "2025-03-03 12:00:00+00",
            "resolved",
            21.0,
            True,
            False,
            "waiting_time",
        ),
        # contacted after 69 hours: late; the "called" row of the feed is ignored
        (
            "F0005",
            "ed@example.com",
            True,
            48,
            "2025-03-03 13:00:00+00",
            "contacted",
            69.0,
            False,
            False,
            "staff",
        ),
        # SRV-DELIVERY: 24 hours (seed); unregistered branch: no manager; never contacted
        (
            "F0102",
            "zo@example.com",
            False,
            24,
            "2025-03-03 09:00:00+00",
            "open",
            None,
            None,
            True,
            "delivery",
        ),
    ]


def test_followup_sla_per_branch_and_month(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select branch_id, detractors_to_follow_up, contacted, contacted_within_sla, resolved, "
        "overdue_open, median_hours_to_contact, share_contacted_within_sla "
        "from marts.followup_sla where period_start = '2025-03-01' order by branch_id",
    )
    assert rows == [
        ("BR-0002", 1, 1, 1, 1, 0, 21.0, 1.0),
        ("BR-0003", 1, 1, 0, 0, 0, 69.0, 0.0),
        ("BR-9999", 1, 0, 0, 0, 1, None, 0.0),
    ]


def test_promoter_testimonials_newest_first(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select response_id, comment, recency_rank from marts.promoter_testimonials "
        "order by recency_rank",
    )
    # F0002 consented but left no comment; F0104 did not consent
    assert rows == [
        ("F0201", "Świetna aplikacja", 1),
        ("F0101", "Fast delivery", 2),
        ("F0001", "Great staff", 3),
    ]


def test_action_plan_tracker(fixture_run: CliRun) -> None:
    rows = query(
        fixture_run.warehouse,
        "select action_id, status, is_overdue, responses_90d_before, nps_90d_before, "
        "responses_90d_after, nps_90d_after from marts.action_plan_tracker order by 1",
    )
    assert rows == [
        # BR-0002 before 2025-03-05: F0402 (9), F0003 (8), F0004 (6) -> NPS 0
        ("AP-001", "done", False, 3, 0.0, 0, None),
        # updated to done by the April file; BR-0003: F0403 (2), F0005 (0), F0006 (7)
        ("AP-002", "done", False, 3, -200.0 / 3, 0, None),
        # a department item, open and past due
        ("AP-003", "open", True, 0, None, 0, None),
    ]


def test_only_the_followup_queue_carries_email(fixture_run: CliRun) -> None:
    columns = query(
        fixture_run.warehouse,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and lower(column_name) like '%email%' order by 1, 2",
    )
    assert columns == [
        ("detractor_followup_queue", "manager_email"),
        ("detractor_followup_queue", "respondent_email"),
    ]
