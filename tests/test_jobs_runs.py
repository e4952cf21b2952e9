"""Scheduled jobs run through the app's interfaces: claims, CLI, views, metrics."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.library.models import LoanStatus, LoginEvent, SearchLog
from app.monitor import schedule as sched
from app.monitor.jobs import runner as job_runner
from app.monitor.models import DailyStats, JobRun, MetricSnapshot
from app.timeutil import utcnow
from tests.factories import Factory, login

START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_period_alignment_and_keys():
    job = sched.ScheduledJob("x", "m.f", 60)
    assert sched.period_start(job, datetime(2026, 1, 5, 12, 0, 59, 999, tzinfo=timezone.utc)) == START
    assert sched.next_period_start(job, START) == START + timedelta(seconds=60)
    assert sched.period_key(START) == "2026-01-05T12:00:00Z"
    daily = sched.ScheduledJob("d", "m.f", sched.DAY)
    assert sched.period_start(daily, START) == datetime(2026, 1, 5, tzinfo=timezone.utc)
    cron = sched.ScheduledJob("c", "m.f", None, cron="*/15 * * * *")
    assert sched.period_start(cron, START + timedelta(minutes=20)) == START + timedelta(minutes=15)


def test_collect_claims_its_period_once_and_force_replaces(app, make):
    with app.app_context():
        admin = make.admin()
        member = make.user()
        book = make.book(copies=4)
        make.loan(member, book)
        make.loan(admin, book, due_at=utcnow() - timedelta(days=1))
        first = job_runner.execute("collect", START)
        assert first["status"] == "succeeded"
        assert first["result"] == {"period_key": "2026-01-05T12:00:00Z", "total_users": 2, "active_users": 0,
                                   "total_copies": 4, "available_copies": 2, "active_loans": 2,
                                   "overdue_loans": 1, "pending_verifications": 0}
        assert job_runner.execute("collect", START)["status"] == "skipped"
        make.loan(member, book)
        forced = job_runner.execute("collect", START, force=True)
        assert forced["result"]["active_loans"] == 3
        assert count(MetricSnapshot) == 1
        snap = db.session.execute(select(MetricSnapshot)).scalar_one()
        assert (snap.active_loans, snap.available_copies) == (3, 1)
        run = db.session.execute(select(JobRun)).scalar_one()
        assert (run.job, run.period_key, run.status, run.attempts) == ("collect", "2026-01-05T12:00:00Z",
                                                                      "succeeded", 2)


def test_failed_run_is_recorded_reraised_and_reclaimable(any_app, monkeypatch):
    with any_app.app_context():
        calls = []

        def boom(start):
            calls.append(start)
            if len(calls) == 1:
                raise RuntimeError("database on fire")
            return {"ok": True}

        monkeypatch.setattr("app.monitor.jobs.collect.collect", boom)
        with pytest.raises(RuntimeError):
            job_runner.execute("collect", START)
        run = db.session.execute(select(JobRun)).scalar_one()
        assert (run.status, run.attempts, run.error) == ("failed", 1, "RuntimeError: database on fire")
        assert job_runner.execute("collect", START)["status"] == "succeeded"  # the retry claims it
        db.session.refresh(run)
        assert (run.status, run.attempts, run.error) == ("succeeded", 2, "RuntimeError: database on fire")


def test_running_run_past_deadline_is_swept_as_abandoned(any_app):
    with any_app.app_context():
        run_id = job_runner.claim("collect", START, 30, now=START)
        assert job_runner.claim("collect", START, 30, now=START + timedelta(seconds=10)) is None
        assert job_runner.sweep_abandoned(START + timedelta(seconds=59)) == 0
        assert job_runner.sweep_abandoned(START + timedelta(seconds=61)) == 1  # 30 s timeout + 30 s grace
        run = db.session.get(JobRun, run_id)
        assert (run.status, run.error) == ("failed", "abandoned: no result before the deadline (worker died?)")


def test_daily_stats_counts_a_day_and_rerun_replaces(app, make):
    day = date(2026, 1, 4)
    noon = datetime(2026, 1, 4, 12, tzinfo=timezone.utc)
    with app.app_context():
        user = make.user(created_at=noon)
        book = make.book(copies=3)
        make.loan(user, book, borrowed_at=noon, due_at=noon + timedelta(hours=1))  # overdue from 13:00
        make.loan(user, book, borrowed_at=noon - timedelta(days=3), due_at=noon, status=LoanStatus.RETURNED,
                  returned_at=noon + timedelta(hours=2), fine_cents=25)
        db.session.add_all([LoginEvent(user_id=user.id, success=True, created_at=noon),
                            LoginEvent(user_id=user.id, success=False, created_at=noon),
                            LoginEvent(user_id=user.id, success=True, created_at=noon + timedelta(days=1)),
                            SearchLog(query="dune", result_count=3, created_at=noon),
                            SearchLog(query="zzz", result_count=0, created_at=noon)])
        db.session.commit()
        result = job_runner.execute("daily_stats", datetime(2026, 1, 5, tzinfo=timezone.utc))["result"]
        assert result == {"day": "2026-01-04", "loans": 1, "returns": 1, "registrations": 1, "logins": 1,
                          "failed_logins": 1, "searches": 2, "zero_result_searches": 1, "became_overdue": 2,
                          "fines_cents": 25}
        db.session.add(SearchLog(query="late", result_count=1, created_at=noon + timedelta(hours=11)))
        db.session.commit()
        job_runner.execute("daily_stats", datetime(2026, 1, 5, tzinfo=timezone.utc), force=True)
        assert count(DailyStats) == 1
        assert db.session.execute(select(DailyStats)).scalar_one().searches == 3


def test_prune_applies_retention(app, make):
    with app.app_context():
        now = utcnow()
        db.session.add_all([SearchLog(query="old", result_count=1, created_at=now - timedelta(days=181)),
                            SearchLog(query="new", result_count=1, created_at=now - timedelta(days=179))])
        db.session.commit()
        job_runner.execute("collect", now - timedelta(days=31))  # its snapshot is taken now: kept
        db.session.execute(db.update(MetricSnapshot).values(taken_at=now - timedelta(days=31)))
        db.session.commit()
        result = job_runner.execute("prune", sched.period_start(sched.by_name(app.config, "prune"), now))
        assert result["result"] == {"snapshots": 1, "search_log": 1, "alert_history": 0, "job_runs": 0}
        assert [q for (q,) in db.session.execute(select(SearchLog.query))] == ["new"]


def test_flask_monitor_collect_cli(app, make, runner):
    with app.app_context():
        make.book(copies=2)
    result = runner.invoke(args=["monitor", "collect", "--daily-stats", "--health-check", "--alerts"])
    assert result.exit_code == 0, result.output
    assert "collect: succeeded for period" in result.output
    assert '"total_copies": 2' in result.output
    assert "health_check: succeeded" in result.output and '"database": "ok"' in result.output
    assert "evaluate_alerts: succeeded" in result.output
    again = runner.invoke(args=["monitor", "collect"])
    assert "already done (use --force" in again.output
    forced = runner.invoke(args=["monitor", "collect", "--force"])
    assert "collect: succeeded" in forced.output
    with app.app_context():
        assert count(MetricSnapshot) == 1
        assert count(DailyStats) == 1
        assert {r.job for r in db.session.execute(select(JobRun)).scalars()} == {
            "collect", "health_check", "evaluate_alerts"}


def test_jobs_and_alerts_views_are_admin_only_and_true(app, client):
    # No `make` fixture here: its app context would be reused by the client's requests.
    with app.app_context():
        Factory().admin()
        Factory().user("reader")
    assert client.get("/api/analytics/monitor/jobs/").status_code == 401
    login(client, "reader")
    assert client.get("/api/analytics/monitor/alerts/").status_code == 403
    client.post("/api/auth/logout")
    login(client, "admin")
    with app.app_context():
        job_runner.execute("collect", START)
    body = client.get("/api/analytics/monitor/jobs/").get_json()
    assert body["scheduler"] == "embedded"
    assert body["queue"]["available"] is False and body["workers"] == []
    collect = next(j for j in body["jobs"] if j["name"] == "collect")
    assert collect["last_success"]["period_key"] == "2026-01-05T12:00:00Z"
    assert collect["last_failure"] is None
    assert [r["period_key"] for r in collect["recent_runs"]] == ["2026-01-05T12:00:00Z"]
    assert collect["interval_seconds"] == 60
    assert [j["name"] for j in body["jobs"]] == ["collect", "evaluate_alerts", "health_check", "daily_stats",
                                                 "prune"]
    alerts = client.get("/api/analytics/monitor/alerts/").get_json()
    assert alerts["firing"] == [] and alerts["pending"] == [] and alerts["silences"] == []


def test_silences_api(app, client):
    with app.app_context():
        Factory().admin()
    login(client, "admin")
    url = "/api/analytics/monitor/silences/"
    bad = client.post(url, json={"rule": "NoSuchRule", "duration_seconds": 60, "comment": "x"})
    assert bad.status_code == 400 and "rule" in bad.get_json()["error"]["fields"]
    assert client.post(url, json={"duration_seconds": 60, "comment": "x"}).status_code == 400  # no matcher
    assert client.post(url, json={"rule": "HighErrorRate", "comment": "x"}).status_code == 400  # no end
    assert client.post(url, data="rule=x", content_type="application/x-www-form-urlencoded").status_code == 415
    created = client.post(url, json={"rule": "HighErrorRate", "severity": "critical", "duration_seconds": 3600,
                                     "comment": "deploy window"})
    assert created.status_code == 201
    silence = created.get_json()
    assert silence["matchers"] == {"rule": "HighErrorRate", "severity": "critical"}
    assert (silence["created_by"], silence["state"], silence["comment"]) == ("admin", "active", "deploy window")
    assert [s["id"] for s in client.get(url).get_json()["silences"]] == [silence["id"]]
    assert client.delete(f"{url}{silence['id']}").get_json()["state"] == "expired"
    assert client.delete(f"{url}999").status_code == 404
    assert client.get("/api/analytics/monitor/alerts/").get_json()["silences"] == []


def test_alerts_silence_cli(app, runner):
    added = runner.invoke(args=["alerts", "silence", "add", "--severity", "warning", "--duration", "30m",
                                "--comment", "maintenance", "--created-by", "ops"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["alerts", "silence", "list"])
    assert "rule=*\tseverity=warning" in listed.output and "ops: maintenance" in listed.output
    assert runner.invoke(args=["alerts", "silence", "expire", "1"]).exit_code == 0
    assert runner.invoke(args=["alerts", "silence", "list"]).output == ""
    assert runner.invoke(args=["alerts", "silence", "add", "--comment", "x"]).exit_code != 0  # no matcher


def test_job_metrics_from_the_database(app, client, monkeypatch):
    with app.app_context():
        job_runner.execute("collect", START)
        job_runner.execute("collect", START + timedelta(minutes=1))
        monkeypatch.setattr("app.monitor.jobs.health_check.health_check",
                            lambda start: (_ for _ in ()).throw(RuntimeError("x")))
        with pytest.raises(RuntimeError):
            job_runner.execute("health_check", START)
        last = db.session.execute(select(JobRun).where(JobRun.period_key == "2026-01-05T12:01:00Z")).scalar_one()
        last_finished, last_duration = last.finished_at.timestamp(), last.duration_seconds
    text = client.get("/metrics").get_data(as_text=True)

    def value(name, **labels):
        pattern = name + r"\{([^}]*)\} (\S+)"
        for found_labels, v in re.findall(pattern, text):
            found = dict(re.findall(r'(\w+)="([^"]*)"', found_labels))
            if all(found.get(k) == str(w) for k, w in labels.items()):
                return float(v)
        return None

    assert value("library_job_runs_total", job="collect", result="succeeded") == 2
    assert value("library_job_runs_total", job="collect", result="failed") == 0
    assert value("library_job_runs_total", job="health_check", result="failed") == 1
    assert value("library_job_last_success_timestamp_seconds", job="collect") == pytest.approx(last_finished)
    assert value("library_job_duration_seconds", job="collect") == pytest.approx(last_duration)
