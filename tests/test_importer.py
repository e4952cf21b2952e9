"""The importer on a small hand-made set of CSV files: exact rows, rules, idempotence, rollback, CLI."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from app import create_app
from app.extensions import db
from app.library.importer import ImportDataError, run, run_import
from app.library.importer.stable import stable_fraction
from app.library.models import (Author, Book, BookAuthor, Category, Loan, LoginEvent, Reservation, Role, User,
                                VerificationStatus)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
BOOKS_HEADER = ("book_id,goodreads_book_id,best_book_id,work_id,books_count,isbn,isbn13,authors,"
                "original_publication_year,original_title,title,language_code,average_rating,ratings_count,"
                "work_ratings_count,work_text_reviews_count,ratings_1,ratings_2,ratings_3,ratings_4,ratings_5,"
                "image_url,small_image_url")
COVER = "https://images.gr-assets.com/books/1447303603m/2767052.jpg"
NOPHOTO = "https://s.gr-assets.com/assets/nophoto/book/111x148-bcc042a9c91a29c1d680899eff700a03.png"


def _reader(book, low, high, skip=()):
    """The first reader id whose to-read mark on `book` falls in the share [low, high)."""
    return next(r for r in range(100, 100_000)
                if r not in skip and low <= stable_fraction("to_read", r, book) < high)


def _loan_reader_for_both(skip):
    return next(r for r in range(100, 100_000) if r not in skip
                and stable_fraction("to_read", r, 1) < 0.06 and stable_fraction("to_read", r, 3) < 0.06)


# Readers chosen by the documented share rule: < 6 % asks for a loan, 6-9 % reserves, the rest nothing.
A1 = _reader(2, 0, 0.06)
A2 = _reader(2, 0, 0.06, skip={A1})
R1 = _reader(1, 0.06, 0.09)
X1 = _reader(3, 0.09, 1.0)
A3 = _reader(1, 0, 0.06, skip={A1, A2})
B = _loan_reader_for_both(skip={A1, A2, R1, X1, A3})


def write_set(folder, to_read=None):
    """Three books, four tags, three ratings and some to-read marks."""
    folder.mkdir(exist_ok=True)
    books = [
        BOOKS_HEADER,
        f'1,100,100,1,1,439023483,9.78043902348e+12,Suzanne Collins,2008.0, The Hunger Games ,'
        f'"The Hunger Games (The Hunger Games, #1)",eng,4.34,4780653,1,1,1,1,1,1,1,{COVER},{COVER}',
        f'2,200,200,2,1,43965548X,76783609419.0,"J.K. Rowling,  Mary   GrandPré, J.K. Rowling",-720.0,,'
        f'Les  Misérables ,,4.0,15000,1,1,1,1,1,1,1,{NOPHOTO},{NOPHOTO}',
        f'3,300,300,3,1,,,"Unknown, Seamus Heaney",,,Beowulf,en-US,3.4,25000,1,1,1,1,1,1,1,{COVER},{COVER}',
    ]
    (folder / "books.csv").write_text("\n".join(books) + "\n", encoding="utf-8")
    (folder / "tags.csv").write_bytes(
        "tag_id,tag_name\r\n0,fantasy\r\n1,to-read\r\n2,science-fiction\r\n3,Ｍａｎｇａ\r\n".encode())
    (folder / "book_tags.csv").write_text(
        "goodreads_book_id,tag_id,count\n100,1,500\n100,2,40\n100,0,40\n200,3,10\n200,3,12\n")
    (folder / "ratings.csv").write_text("user_id,book_id,rating\n7,1,5\n9,2,4\n7,3,3\n")
    rows = to_read if to_read is not None else [(A1, 2), (A2, 2), (R1, 1), (X1, 3), (A3, 1)]
    (folder / "to_read.csv").write_text("user_id,book_id\n" + "".join(f"{u},{b}\n" for u, b in rows))
    return folder


def _user(username):
    return db.session.execute(select(User).filter_by(username=username)).scalar_one()


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_fixture_import_exact_rows(app, tmp_path):
    folder = write_set(tmp_path / "set")
    with app.app_context():
        result = run_import(folder, now=NOW)
        assert not result.skipped
        assert result.counts == {
            "books": 3, "authors": 4, "book_authors": 4, "categories": 3, "members": 7,
            "login_events": _count(LoginEvent), "loans": 5, "active_loans": 2,
            "returned_loans": result.counts["returned_loans"], "lost_loans": result.counts["lost_loans"],
            "damaged_loans": result.counts["damaged_loans"], "reservations": 2, "copies": 12,
            "isbn10": 2, "isbn13_given": 0, "isbn13_derived": 2, "isbn13_none": 1, "skipped_interactions": 0,
        }
        assert result.counts["returned_loans"] + result.counts["lost_loans"] + result.counts["damaged_loans"] == 3

        books = db.session.execute(select(
            Book.id, Book.goodreads_book_id, Book.title, Book.original_title, Book.isbn10, Book.isbn13,
            Book.publication_year, Book.language_code, Category.name, Book.total_copies, Book.available_copies,
            Book.ratings_count, Book.image_url, Book.view_count).join(Category).order_by(Book.id)).all()
        assert [tuple(b) for b in books] == [
            (1, 100, "The Hunger Games (The Hunger Games, #1)", "The Hunger Games", "0439023483", "9780439023481",
             2008, "eng", "Fantasy", 9, 8, 4780653, COVER, 0),
            (2, 200, "Les Misérables", None, "043965548X", "9780439655484", -720, None,
             "Graphic Novels & Comics", 1, 0, 15000, None, 0),
            (3, 300, "Beowulf", None, None, None, None, "en-US", "Uncategorized", 2, 2, 25000, COVER, 0),
        ]
        links = db.session.execute(select(BookAuthor.book_id, BookAuthor.position, Author.name)
                                   .join(Author).order_by(BookAuthor.book_id, BookAuthor.position)).all()
        assert [tuple(link) for link in links] == [
            (1, 1, "Suzanne Collins"), (2, 1, "J.K. Rowling"), (2, 2, "Mary GrandPré"), (3, 1, "Seamus Heaney")]
        assert sorted(db.session.scalars(select(Category.name))) == [
            "Fantasy", "Graphic Novels & Comics", "Uncategorized"]

        # Ratings, in file order, are returned loans spread from now-180 d to now-2 d.
        closed = db.session.execute(select(Loan).where(Loan.status != "active").order_by(Loan.id)).scalars().all()
        assert [(loan.user.username, loan.book_id) for loan in closed] == [
            ("reader7", 1), ("reader9", 2), ("reader7", 3)]
        assert [loan.borrowed_at for loan in closed] == [NOW - 180 * DAY, NOW - 91 * DAY, NOW - 2 * DAY]
        for loan in closed:
            assert loan.due_at - loan.borrowed_at == 14 * DAY * (1 + loan.renewals)
            assert loan.borrowed_at < loan.returned_at <= NOW
            late_days = -(-(loan.returned_at - loan.due_at) // DAY) if loan.returned_at > loan.due_at else 0
            fee = {"returned": 0, "lost": 2000, "damaged": 500}[loan.status]
            assert loan.fine_cents == late_days * 25 + fee
            assert not loan.fine_paid or loan.fine_cents > 0

        # To-read marks: A1 gets book 2's only copy, A2 queues for it, R1 reserves,
        # X1's mark stays a mark, A3 borrows book 1.
        active = db.session.execute(select(Loan).where(Loan.status == "active").order_by(Loan.id)).scalars().all()
        assert [(loan.user.username, loan.book_id) for loan in active] == [(f"reader{A1}", 2), (f"reader{A3}", 1)]
        for loan in active:
            assert loan.returned_at is None and loan.fine_cents == 0
            assert loan.due_at - loan.borrowed_at == 14 * DAY * (1 + loan.renewals)
            assert loan.borrowed_at <= NOW and loan.due_at > NOW - 46 * DAY
        reservations = db.session.execute(select(Reservation).order_by(Reservation.id)).scalars().all()
        span = timedelta(seconds=(30 * DAY - timedelta(hours=1)) // timedelta(seconds=1) // 4)
        assert [(r.user.username, r.book_id, r.status, r.created_at) for r in reservations] == [
            (f"reader{A2}", 2, "waiting", NOW - 30 * DAY + span),
            (f"reader{R1}", 1, "waiting", NOW - 30 * DAY + 2 * span)]

        # available = total - active loans, by SQL, for every book.
        assert db.session.execute(text(
            "SELECT COUNT(*) FROM books b WHERE b.available_copies != b.total_copies - "
            "(SELECT COUNT(*) FROM loans l WHERE l.book_id = b.id AND l.status = 'active')")).scalar() == 0


def test_fixture_members(app, tmp_path):
    write_set(tmp_path / "set")
    with app.app_context():
        run_import(tmp_path / "set", now=NOW)
        users = db.session.execute(select(User).order_by(User.id)).scalars().all()
        readers = sorted({7, 9, A1, A2, R1, X1, A3})
        assert [u.username for u in users] == [f"reader{r}" for r in readers]
        assert [u.email for u in users] == [f"reader{r}@members.invalid" for r in readers]
        logins = {e.user_id: e for e in db.session.execute(select(LoginEvent)).scalars()}
        assert len(logins) == sum(u.last_login_at is not None for u in users)
        for user in users:
            assert user.password_hash is None and not user.check_password("")
            assert user.role in (Role.STUDENT, Role.TEACHER, Role.LIBRARIAN, Role.MEMBER)
            assert user.is_admin == (user.role == Role.LIBRARIAN)
            assert user.account_status == "active"
            firsts = [loan.borrowed_at for loan in db.session.scalars(select(Loan).filter_by(user_id=user.id))]
            firsts += [r.created_at for r in db.session.scalars(select(Reservation).filter_by(user_id=user.id))]
            assert user.created_at < min(firsts, default=NOW)
            if user.last_login_at is None:
                assert user.last_seen_at is None and user.id not in logins
            else:
                assert max(NOW - 60 * DAY, user.created_at) <= user.last_login_at <= user.last_seen_at <= NOW
                assert logins[user.id].success is True
                assert logins[user.id].created_at == user.last_login_at
            states = (user.email_verification, user.identity_verification, user.professional_verification)
            assert set(states) <= set(VerificationStatus.ALL)
            if VerificationStatus.PENDING in states:
                assert user.created_at <= user.verification_requested_at <= NOW
            else:
                assert user.verification_requested_at is None


def test_loan_limit_turns_extra_loans_into_reservations(app, tmp_path):
    write_set(tmp_path / "set", to_read=[(B, 1), (B, 3)])
    app.config["LOAN_LIMIT"] = 1
    with app.app_context():
        result = run_import(tmp_path / "set", now=NOW)
        assert (result.counts["active_loans"], result.counts["reservations"]) == (1, 1)
        user_id = _user(f"reader{B}").id
        assert db.session.execute(select(Loan.book_id).filter_by(user_id=user_id, status="active")).all() == [(1,)]
        assert db.session.execute(select(Reservation.book_id).filter_by(user_id=user_id)).all() == [(3,)]


def test_second_run_adds_nothing(app, tmp_path):
    folder = write_set(tmp_path / "set")
    with app.app_context():
        run_import(folder, now=NOW)
        before = dump_tables()
        again = run_import(folder, now=NOW + DAY)
        assert again.skipped and again.counts == {"books": 3}
        assert dump_tables() == before


def dump_tables():
    """Every row of every table, ordered by primary key."""
    return {table.name: [tuple(row) for row in db.session.execute(
        select(table).order_by(*table.primary_key.columns))] for table in db.metadata.sorted_tables}


def sqlite_app(path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
                      "RATELIMIT_STORAGE_URI": "memory://", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        db.create_all()
    return app


def test_same_input_and_now_give_identical_databases(tmp_path):
    folder = write_set(tmp_path / "set")
    dumps = []
    for name in ("a.db", "b.db"):
        app = sqlite_app(tmp_path / name)
        with app.app_context():
            run_import(folder, now=NOW)
            dumps.append(dump_tables())
            db.engine.dispose()
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["loans"]) == 5


def test_failure_midway_leaves_nothing(app, tmp_path, monkeypatch):
    folder = write_set(tmp_path / "set")
    real_insert = run._insert

    def failing_insert(model, rows, bar):
        if model is Loan:
            raise RuntimeError("disk full")
        real_insert(model, rows, bar)

    monkeypatch.setattr(run, "_insert", failing_insert)
    with app.app_context():
        with pytest.raises(RuntimeError):
            run_import(folder, now=NOW)
        assert all(rows == [] for rows in dump_tables().values())


def test_taken_member_names_are_refused_before_writing(app, tmp_path, make):
    folder = write_set(tmp_path / "set")
    make.user("reader9")
    with pytest.raises(ImportDataError, match="1 member user name.* already taken, e.g. reader9"):
        run_import(folder, now=NOW)
    assert _count(Book) == 0 and _count(User) == 1


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "to_read.csv").unlink(), "missing to_read.csv"),
    (lambda f: (f / "books.csv").write_text("book_id,title\n1,x\n"), "books.csv: header lacks column(s) "
                                                                      "goodreads_book_id, isbn"),
    (lambda f: (f / "ratings.csv").write_text("user_id,book_id\n7,1\nseven,2\n"),
     "ratings.csv, line 3: user_id 'seven' is not a whole number"),
    (lambda f: (f / "books.csv").write_text(BOOKS_HEADER + "\n"), "books.csv: no books"),
])
def test_invalid_input_is_a_clear_error(app, tmp_path, damage, message):
    folder = write_set(tmp_path / "set")
    damage(folder)
    with app.app_context():
        with pytest.raises(ImportDataError) as info:
            run_import(folder, now=NOW)
        assert message in str(info.value)
        assert _count(Book) == 0


def test_interactions_with_unknown_books_are_skipped_and_counted(app, tmp_path):
    folder = write_set(tmp_path / "set")
    (folder / "ratings.csv").write_text("user_id,book_id,rating\n7,1,5\n9,99,4\n")
    with app.app_context():
        result = run_import(folder, now=NOW)
        assert result.counts["skipped_interactions"] == 1
        assert db.session.scalar(select(func.count()).select_from(Loan).where(Loan.status != "active")) == 1


def test_cli_import(app, tmp_path):
    folder = write_set(tmp_path / "set")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["library", "import", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Imported books: 3, authors: 4, book authors: 4, categories: 3, members: 7," in result.stdout
    assert "import: 100%" in result.stderr  # the progress bar
    again = runner.invoke(args=["library", "import", str(folder)])
    assert again.exit_code == 0
    assert again.stdout == "Catalogue already present (3 books): nothing imported.\n"
    with app.app_context():
        assert _count(Book) == 3 and _count(Loan) == 5


def test_cli_import_errors(app, tmp_path):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["library", "import", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert f"Error: cannot import: {tmp_path / 'nope'}: not a directory" in missing.output
    folder = write_set(tmp_path / "set")
    (folder / "tags.csv").unlink()
    incomplete = runner.invoke(args=["library", "import", "--no-progress", str(folder)])
    assert incomplete.exit_code == 1
    assert f"Error: cannot import: {folder}: missing tags.csv" in incomplete.output


def test_cli_import_before_migrations(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
                      "RATELIMIT_STORAGE_URI": "memory://",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"})
    result = app.test_cli_runner().invoke(args=["library", "import", str(write_set(tmp_path / "set"))])
    assert result.exit_code == 1
    assert "Error: cannot import: the database has no tables yet: run `flask db upgrade` first" in result.output
