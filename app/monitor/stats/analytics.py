"""Activity analytics: searches, logins, registrations."""
from datetime import timedelta

from sqlalchemy import and_, func, select

from ...library.models import LoginEvent, SearchLog, User
from .. import status
from ._common import count_where, percent, utc_midnight

AREA = "analytics"
WEEK = timedelta(days=7)
TOP_N = 10


def search_metrics(session, now) -> dict:
    """{searches_today, searches_this_week, zero_result_searches, zero_result_rate}.

    Today = since UTC midnight; week = the 7 days before `now`; the zero-result
    figures are over the week.
    """
    today, week, zero = session.execute(
        select(count_where(SearchLog.created_at >= utc_midnight(now)),
               func.count(),
               count_where(SearchLog.result_count == 0))
        .where(SearchLog.created_at >= now - WEEK, SearchLog.created_at <= now)
    ).one()
    return {
        "searches_today": int(today),
        "searches_this_week": int(week),
        "zero_result_searches": int(zero),
        "zero_result_rate": percent(zero, week),
    }


def top_queries(session, now) -> list:
    """[{query, count}]: this week's 10 most frequent queries, lowercased and trimmed."""
    normalised = func.lower(func.trim(SearchLog.query)).label("q")
    n = func.count().label("n")
    rows = session.execute(
        select(normalised, n)
        .where(SearchLog.created_at >= now - WEEK, SearchLog.created_at <= now)
        .group_by(normalised)
        .order_by(n.desc(), normalised)
        .limit(TOP_N)
    ).all()
    return [{"query": q, "count": int(c)} for q, c in rows]


def auth_metrics(session, now) -> dict:
    """{logins_today, failed_logins_today, registrations_this_week}."""
    midnight = utc_midnight(now)
    logins, failed = session.execute(
        select(count_where(LoginEvent.success.is_(True)), count_where(LoginEvent.success.is_(False)))
        .where(LoginEvent.created_at >= midnight, LoginEvent.created_at <= now)
    ).one()
    registrations = session.scalar(
        select(func.count()).select_from(User)
        .where(and_(User.created_at >= now - WEEK, User.created_at <= now))
    )
    return {
        "logins_today": int(logins),
        "failed_logins_today": int(failed),
        "registrations_this_week": int(registrations),
    }


def analytics_stats(session, now, settings) -> dict:
    """The analytics endpoint's body without `model` and `timestamp`.

    No threshold rule belongs to this area, so `alerts` is empty and `status` healthy
    (see status.RULES).
    """
    searches = search_metrics(session, now)
    auth = auth_metrics(session, now)
    alerts = status.evaluate({}, settings, AREA)
    return {
        "overview": {
            "searches_today": searches["searches_today"],
            "searches_this_week": searches["searches_this_week"],
            "zero_result_rate": searches["zero_result_rate"],
            "logins_today": auth["logins_today"],
            "failed_logins_today": auth["failed_logins_today"],
            "registrations_this_week": auth["registrations_this_week"],
        },
        "search_metrics": {
            "zero_result_searches": searches["zero_result_searches"],
            "top_queries": top_queries(session, now),
        },
        "status": status.worst(*(a["severity"] for a in alerts)),
        "alerts": alerts,
    }
