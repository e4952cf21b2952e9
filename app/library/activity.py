"""last_seen tracking: when an authenticated user was last active."""
import logging
from datetime import timedelta

from flask_login import current_user
from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..timeutil import utcnow
from .models import User

log = logging.getLogger(__name__)

SEEN_INTERVAL = timedelta(minutes=5)


def touch_last_seen():
    """before_request: record activity at most once per SEEN_INTERVAL per user.

    The loaded user's own last_seen_at decides without a query whether a write
    is due; the conditional UPDATE then keeps concurrent requests (or worker
    processes) from writing more than once per interval. It runs before the
    view so its commit can never carry a view's unfinished changes with it.
    """
    if not current_user.is_authenticated:
        return None
    now = utcnow()
    cutoff = now - SEEN_INTERVAL
    seen = current_user.last_seen_at
    if seen is not None and seen >= cutoff:
        return None
    try:
        db.session.execute(
            update(User)
            .where(User.id == current_user.id,
                   or_(User.last_seen_at.is_(None), User.last_seen_at < cutoff))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except SQLAlchemyError:
        # Activity bookkeeping must never fail the request it observes.
        db.session.rollback()
        log.warning("could not record last_seen_at for user %s", current_user.get_id(), exc_info=True)
    return None


def init_app(app):
    """Register the last_seen hook."""
    app.before_request(touch_last_seen)
