"""Books, authors and categories planned from the source rows (pure, no database)."""
import math
from dataclasses import dataclass, field

from . import parse
from .genres import category_for
from .source import ImportDataError

COPIES_BASE_RATINGS = 10_000
MAX_COPIES = 10


def copies_for(ratings_count: int) -> int:
    """Copies the library holds: 1, plus one per doubling of popularity above
    10,000 ratings, at most 10: 1 + floor(log2(ratings_count / 10,000))."""
    if ratings_count < 2 * COPIES_BASE_RATINGS:
        return 1
    return min(MAX_COPIES, 1 + int(math.log2(ratings_count / COPIES_BASE_RATINGS)))


@dataclass
class CataloguePlan:
    books: list[dict]                 # Book columns, with "category" (a name) for category_id
    authors: list[str]                # distinct names, in order of first appearance
    links: list[tuple[int, str, int]]  # (book_id, author name, position)
    stats: dict = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return sorted({book["category"] for book in self.books})


def book_categories(books, tags, book_tags) -> dict[int, str]:
    """goodreads_book_id → category name, from the shelf-tag counts.

    A (book, tag) pair listed twice keeps its higher count.
    """
    counts: dict[int, dict[str, int]] = {}
    for goodreads_id, tag_id, count in book_tags:
        name = tags.get(tag_id)
        if name is None:
            continue
        per_book = counts.setdefault(goodreads_id, {})
        per_book[name] = max(per_book.get(name, 0), count)
    return {book["goodreads_book_id"]: category_for(counts.get(book["goodreads_book_id"], {}))
            for book in books}


def plan_catalogue(source) -> CataloguePlan:
    """Clean every book row and list the authors and categories they need."""
    categories = book_categories(source.books, source.tags, source.book_tags)
    books, links, authors, known = [], [], [], set()
    stats = {"isbn10": 0, "isbn13_given": 0, "isbn13_derived": 0, "isbn13_none": 0}
    for row in source.books:
        isbn10 = parse.clean_isbn10(row["isbn"])
        isbn13 = parse.clean_isbn13(row["isbn13"], isbn10)
        given = parse.clean_isbn13(row["isbn13"], None) is not None
        stats["isbn10"] += isbn10 is not None
        stats["isbn13_given"] += given
        stats["isbn13_derived"] += isbn13 is not None and not given
        stats["isbn13_none"] += isbn13 is None
        title = parse.text_or_none(row["title"]) or parse.text_or_none(row["original_title"])
        if title is None:
            raise ImportDataError(f"books.csv: book_id {row['book_id']} has no title")
        ratings_count = max(0, parse.clean_int(row["ratings_count"]))
        copies = copies_for(ratings_count)
        book_id = row["book_id"]
        books.append({
            "id": book_id,
            "goodreads_book_id": row["goodreads_book_id"],
            "title": title,
            "original_title": parse.text_or_none(row["original_title"]),
            "isbn10": isbn10,
            "isbn13": isbn13,
            "publication_year": parse.clean_year(row["original_publication_year"]),
            "language_code": parse.clean_language(row["language_code"]),
            "category": categories[row["goodreads_book_id"]],
            "total_copies": copies,
            "available_copies": copies,
            "view_count": 0,
            "ratings_count": ratings_count,
            "image_url": parse.clean_image_url(row["image_url"]),
        })
        for position, name in enumerate(parse.split_authors(row["authors"]), start=1):
            links.append((book_id, name, position))
            if name not in known:
                known.add(name)
                authors.append(name)
    return CataloguePlan(books, authors, links, stats)
