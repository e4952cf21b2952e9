"""Book statistics: copies, availability, categories, inventory, popularity."""
from sqlalchemy import func, select

from ...library.models import Book, Category, Loan, LoanStatus, Reservation, ReservationStatus
from .. import status
from ._common import count_where, percent

TOP_N = 10


def _active_loans_per_book():
    return (select(Loan.book_id, func.count().label("n"))
            .where(Loan.status == LoanStatus.ACTIVE)
            .group_by(Loan.book_id)
            .subquery())


def books_overview(session) -> dict:
    """{total_books, available_books, borrowed_books, availability_rate}.

    total = SUM(total_copies), available = SUM(available_copies),
    borrowed = COUNT of active loans (overdue included).
    """
    total, available = session.execute(
        select(func.coalesce(func.sum(Book.total_copies), 0),
               func.coalesce(func.sum(Book.available_copies), 0))
    ).one()
    borrowed = session.scalar(select(func.count()).select_from(Loan).where(Loan.status == LoanStatus.ACTIVE))
    return {
        "total_books": int(total),
        "available_books": int(available),
        "borrowed_books": int(borrowed),
        "availability_rate": percent(available, total),
    }


def category_distribution(session) -> dict:
    """{<category name>: {total_books, available_books, borrowed_books, utilization_rate}}."""
    loans = _active_loans_per_book()
    rows = session.execute(
        select(Category.name,
               func.coalesce(func.sum(Book.total_copies), 0),
               func.coalesce(func.sum(Book.available_copies), 0),
               func.coalesce(func.sum(loans.c.n), 0))
        .select_from(Category)
        .outerjoin(Book, Book.category_id == Category.id)
        .outerjoin(loans, loans.c.book_id == Book.id)
        .group_by(Category.id, Category.name)
        .order_by(Category.name)
    ).all()
    return {
        name: {
            "total_books": int(total),
            "available_books": int(available),
            "borrowed_books": int(borrowed),
            "utilization_rate": percent(borrowed, total),
        }
        for name, total, available, borrowed in rows
    }


def inventory_metrics(session, settings) -> dict:
    """{low_stock, out_of_stock, high_demand, avg_copies_per_book} over titles."""
    low = settings["LOW_STOCK_THRESHOLD"]
    out_of_stock, low_stock, avg_copies = session.execute(
        select(count_where(Book.available_copies == 0),
               count_where(Book.available_copies.between(1, low)),
               func.avg(Book.total_copies))
    ).one()
    waiting = (select(Reservation.book_id, func.count().label("n"))
               .where(Reservation.status == ReservationStatus.WAITING)
               .group_by(Reservation.book_id)
               .subquery())
    high_demand = session.scalar(
        select(func.count()).select_from(Book)
        .join(waiting, waiting.c.book_id == Book.id)
        .where(waiting.c.n > Book.available_copies)
    )
    return {
        "low_stock": int(low_stock),
        "out_of_stock": int(out_of_stock),
        "high_demand": int(high_demand),
        "avg_copies_per_book": round(float(avg_copies), 2) if avg_copies is not None else 0.0,
    }


def popularity_metrics(session) -> dict:
    """Top titles by views (view_count > 0) and by number of loans (any status)."""
    viewed = session.execute(
        select(Book.title, Book.view_count)
        .where(Book.view_count > 0)
        .order_by(Book.view_count.desc(), Book.id)
        .limit(TOP_N)
    ).all()
    # Rank loans per book on the loans index first, then fetch only the winners' titles.
    n = func.count().label("n")
    top = (select(Loan.book_id, n).group_by(Loan.book_id)
           .order_by(n.desc(), Loan.book_id).limit(TOP_N).subquery())
    borrowed = session.execute(
        select(Book.title, top.c.n)
        .join(top, top.c.book_id == Book.id)
        .order_by(top.c.n.desc(), Book.id)
    ).all()
    return {
        "most_viewed": [{"title": title, "views": int(views)} for title, views in viewed],
        "most_borrowed": [{"title": title, "borrows": int(n)} for title, n in borrowed],
    }


def availability_input(overview: dict):
    """The availability rule's input: None for an empty catalogue (nothing to judge)."""
    return overview["availability_rate"] if overview["total_books"] else None


def books_stats(session, now, settings) -> dict:
    """The books endpoint's body without `model` and `timestamp`."""
    overview = books_overview(session)
    alerts = status.evaluate({"book_availability": availability_input(overview)}, settings, "books")
    return {
        "overview": overview,
        "status": status.worst(*(alert["severity"] for alert in alerts)),
        "category_distribution": category_distribution(session),
        "inventory_metrics": inventory_metrics(session, settings),
        "popularity_metrics": popularity_metrics(session),
        "alerts": alerts,
    }
