"""The import as one transaction: read, plan, then bulk-insert every table."""
import sys
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, insert, inspect, select, text
from tqdm import tqdm

from ...extensions import db
from ..models import Author, Book, BookAuthor, Category, Loan, LoanStatus, LoginEvent, Reservation, User
from ...timeutil import to_utc, utcnow
from .catalogue import plan_catalogue
from .history import plan_history
from .members import plan_members
from .source import ImportDataError, check_folder, read_source

CHUNK = 5000


@dataclass
class ImportResult:
    """What an import did: `skipped` when the catalogue was already there."""

    skipped: bool
    counts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


class _Stages:
    """Wall time per stage, in seconds."""

    def __init__(self):
        self.seconds = {}
        self._last = time.perf_counter()

    def done(self, name):
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def catalogue_size() -> int:
    """Books already in the database."""
    return db.session.scalar(select(func.count()).select_from(Book))


def run_import(path, *, now=None, progress=False) -> ImportResult:
    """Import the goodbooks-10k folder `path` into an empty catalogue.

    `now` (default: the current instant) is the import time every generated
    date is relative to; the same files and `now` give the same database.
    Does nothing when books already exist. All rows are written in one
    transaction: on any error nothing is kept.
    """
    check_folder(path)
    now = to_utc(now or utcnow()).replace(microsecond=0)
    config = current_app.config
    stages = _Stages()
    try:
        if not inspect(db.session.connection()).has_table(Book.__tablename__):
            raise ImportDataError("the database has no tables yet: run `flask db upgrade` first")
        existing = catalogue_size()
        if existing:
            db.session.rollback()
            return ImportResult(True, {"books": existing})
        with tqdm(total=5, desc="read", unit="file", file=sys.stderr, disable=not progress, leave=False) as bar:
            source = read_source(path, on_file=lambda _name: bar.update(1))
        stages.done("read")

        catalogue = plan_catalogue(source)
        copies = {book["id"]: book["total_copies"] for book in catalogue.books}
        history = plan_history(source.ratings, source.to_read, copies, now,
                               loan_days=config["LOAN_DAYS"], loan_limit=config["LOAN_LIMIT"],
                               fine_per_day_cents=config["FINE_PER_DAY_CENTS"])
        readers = {reader for reader, _ in source.ratings} | {reader for reader, _ in source.to_read}
        members = plan_members(readers, history.first_activity, now)
        _check_usernames_free(members)
        for book in catalogue.books:
            book["available_copies"] = book["total_copies"] - history.active_by_book.get(book["id"], 0)
        stages.done("plan")

        total = (len(catalogue.categories) + len(catalogue.authors) + len(catalogue.books)
                 + len(catalogue.links) + len(members) * 2 + len(history.loans) + len(history.reservations))
        with tqdm(total=total, desc="import", unit="row", file=sys.stderr, disable=not progress) as bar:
            counts = _write(catalogue, members, history, readers, bar, stages)
        db.session.commit()
        stages.done("commit")
    except BaseException:
        db.session.rollback()
        raise
    counts.update(catalogue.stats)
    counts["skipped_interactions"] = sum(source.skipped.values())
    stages.seconds["total"] = round(sum(stages.seconds.values()), 3)
    return ImportResult(False, counts, stages.seconds)


def _check_usernames_free(members):
    """Refuse, before writing anything, when accounts already use the members' names."""
    names = {member["username"] for member in members}
    taken = sorted(name for name in db.session.scalars(select(User.username)) if name in names)
    if taken:
        raise ImportDataError(f"{len(taken)} member user name(s) already taken, e.g. {', '.join(taken[:3])}")


def _insert(model, rows, bar):
    """Bulk-insert `rows` (dicts keyed by column name) in chunks of CHUNK rows.

    SQLite: a Core executemany per chunk (the ORM's bulk path added a third
    to the time). PostgreSQL: COPY through psycopg, which measured about
    three times faster here than SQLAlchemy's executemany (pipelined
    single-row INSERTs) or its multi-row VALUES batches.
    """
    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        _copy(model.__table__, rows, bar)
        return
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        db.session.execute(insert(model.__table__), chunk)
        bar.update(len(chunk))


def _copy(table, rows, bar):
    """COPY `rows` into `table` on the session's own connection (same transaction)."""
    keys = list(rows[0])
    columns = ", ".join('"' + table.c[key].name + '"' for key in keys)
    sql = f'COPY "{table.name}" ({columns}) FROM STDIN'
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for n, row in enumerate(rows, start=1):
            copy.write_row([row[key] for key in keys])
            if n % CHUNK == 0:
                bar.update(CHUNK)
    bar.update(len(rows) % CHUNK)


# Ids of new rows are read back by their unique name rather than with
# RETURNING: SQLAlchemy's ordered RETURNING for executemany on SQLite runs
# row by row and was the slowest part of the import.
def _ids_by_name(model, names, bar):
    """name → id for `names`, inserting the ones not there yet."""
    known = dict(db.session.execute(select(model.name, model.id)).all())
    _insert(model, [{"name": name} for name in names if name not in known], bar)
    bar.update(sum(name in known for name in names))
    return dict(db.session.execute(select(model.name, model.id)).all())


def _write(catalogue, members, history, readers, bar, stages) -> dict:
    category_ids = _ids_by_name(Category, catalogue.categories, bar)
    author_ids = _ids_by_name(Author, catalogue.authors, bar)
    books = [{**{k: v for k, v in book.items() if k != "category"}, "category_id": category_ids[book["category"]]}
             for book in catalogue.books]
    _insert(Book, books, bar)
    if db.engine.dialect.name == "postgresql":
        # Ids came from the file: move the sequence past them for books added later.
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('books', 'id'), "
                                "(SELECT MAX(id) FROM books))"))
    _insert(BookAuthor, [{"book_id": b, "author_id": author_ids[name], "position": p}
                         for b, name, p in catalogue.links], bar)
    stages.done("catalogue")

    _insert(User, members, bar)
    by_username = dict(db.session.execute(select(User.username, User.id)).all())
    user_ids = [by_username[member["username"]] for member in members]
    reader_ids = dict(zip(sorted(readers), user_ids))
    logins = [{"user_id": uid, "success": True, "created_at": m["last_login_at"]}
              for uid, m in zip(user_ids, members) if m["last_login_at"] is not None]
    _insert(LoginEvent, logins, bar)
    bar.update(len(members) - len(logins))
    stages.done("members")

    def with_user(rows):
        return [{**{k: v for k, v in row.items() if k != "reader"}, "user_id": reader_ids[row["reader"]]}
                for row in rows]

    _insert(Loan, with_user(history.loans), bar)
    _insert(Reservation, with_user(history.reservations), bar)
    stages.done("history")

    statuses = [loan["status"] for loan in history.loans]
    return {
        "books": len(books),
        "authors": len(catalogue.authors),
        "book_authors": len(catalogue.links),
        "categories": len(catalogue.categories),
        "members": len(members),
        "login_events": len(logins),
        "loans": len(history.loans),
        "active_loans": statuses.count(LoanStatus.ACTIVE),
        "returned_loans": statuses.count(LoanStatus.RETURNED),
        "lost_loans": statuses.count(LoanStatus.LOST),
        "damaged_loans": statuses.count(LoanStatus.DAMAGED),
        "reservations": len(history.reservations),
        "copies": sum(book["total_copies"] for book in books),
    }
