"""Small model factories for tests: explicit values, no randomness."""
import itertools
from datetime import timedelta

from app.extensions import db
from app.library.models import Book, Category, Loan, LoanStatus, User, VerificationStatus
from app.timeutil import utcnow

PASSWORD = "correct horse battery"


class Factory:
    """Creates and commits rows. Use inside an app context."""

    def __init__(self):
        self._seq = itertools.count(1)

    def category(self, name="Fiction"):
        category = db.session.execute(db.select(Category).filter_by(name=name)).scalar_one_or_none()
        if category is None:
            category = Category(name=name)
            db.session.add(category)
            db.session.commit()
        return category

    def user(self, username=None, *, password=PASSWORD, role="member", is_admin=False, **fields):
        n = next(self._seq)
        username = username or f"user{n}"
        fields.setdefault("email_verification", VerificationStatus.APPROVED)
        user = User(username=username, email=f"{username}@example.test", role=role, is_admin=is_admin, **fields)
        if password:
            user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    def admin(self, username="admin", **fields):
        return self.user(username, role="admin", is_admin=True, **fields)

    def book(self, title=None, *, copies=1, available=None, category="Fiction", **fields):
        n = next(self._seq)
        book = Book(
            id=fields.pop("id", None) or 100000 + n,
            title=title or f"Book {n}",
            category=self.category(category),
            total_copies=copies,
            available_copies=copies if available is None else available,
            **fields,
        )
        db.session.add(book)
        db.session.commit()
        return book

    def loan(self, user, book, *, borrowed_at=None, due_at=None, status=LoanStatus.ACTIVE, **fields):
        """A loan row; an active one also takes a copy off the shelf."""
        borrowed_at = borrowed_at or utcnow()
        loan = Loan(user_id=user.id, book_id=book.id, borrowed_at=borrowed_at,
                    due_at=due_at or borrowed_at + timedelta(days=14), status=status, **fields)
        if status == LoanStatus.ACTIVE:
            book.available_copies -= 1
        db.session.add(loan)
        db.session.commit()
        return loan


def login(client, username, password=PASSWORD):
    """Log in through the JSON API; returns the response."""
    return client.post("/api/auth/login", json={"username": username, "password": password})
