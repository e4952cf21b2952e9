"""Books, their authors and categories."""
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...extensions import db


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Author(db.Model):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class BookAuthor(db.Model):
    """A book's authors in the order the catalogue lists them."""

    __tablename__ = "book_authors"

    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    author: Mapped[Author] = relationship()


class Book(db.Model):
    __tablename__ = "books"
    __table_args__ = (
        CheckConstraint("total_copies >= 0", name="ck_books_total_copies"),
        CheckConstraint("available_copies >= 0 AND available_copies <= total_copies",
                        name="ck_books_available_copies"),
        Index("ix_books_category_id", "category_id"),
        Index("ix_books_title", "title"),
    )

    # Same id as goodbooks-10k's book_id, so imported history keeps its references.
    id: Mapped[int] = mapped_column(primary_key=True)
    goodreads_book_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(400))
    original_title: Mapped[str | None] = mapped_column(String(400))
    isbn10: Mapped[str | None] = mapped_column(String(10))
    isbn13: Mapped[str | None] = mapped_column(String(13))
    publication_year: Mapped[int | None] = mapped_column(Integer)
    language_code: Mapped[str | None] = mapped_column(String(16))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    total_copies: Mapped[int] = mapped_column(Integer, default=1)
    available_copies: Mapped[int] = mapped_column(Integer, default=1)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    ratings_count: Mapped[int] = mapped_column(Integer, default=0)
    image_url: Mapped[str | None] = mapped_column(String(500))

    category: Mapped[Category] = relationship()
    book_authors: Mapped[list[BookAuthor]] = relationship(order_by=BookAuthor.position,
                                                          cascade="all, delete-orphan")

    @property
    def author_names(self) -> list[str]:
        return [link.author.name for link in self.book_authors]
