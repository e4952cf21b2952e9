"""Field cleaning of the goodbooks-10k oddities listed in data/goodbooks-10k/SOURCE.md."""
import csv

import pytest

from app.library.importer import parse
from app.library.importer.catalogue import book_categories, copies_for
from app.library.importer.genres import UNCATEGORIZED, category_for
from app.library.importer.stable import pick, stable_fraction


@pytest.mark.parametrize("raw, expected", [
    ("439023483", "0439023483"),      # leading zero lost by the CSV (book 1)
    ("0439023483", "0439023483"),
    ("043965548X", "043965548X"),      # X check digit
    ("43965548X", "043965548X"),       # lost zero and X together
    ("043965548x", "043965548X"),
    ("553609416", "0553609416"),       # book 958
    ("80413717X", "080413717X"),
    ("439023484", None),               # wrong check digit: dropped, not repaired
    ("", None),                        # 700 books have none (book 106 Bossypants)
    (None, None),
    ("12345678901", None),             # too long
    ("4390X3483", None),               # X only as the check digit
])
def test_clean_isbn10(raw, expected):
    assert parse.clean_isbn10(raw) == expected


def test_isbn_check_digits():
    assert parse.isbn10_check_digit("043965548") == "X"
    assert parse.isbn13_check_digit("978043902348") == "1"
    assert parse.is_valid_isbn13("9780439023481")
    assert not parse.is_valid_isbn13("9780439023480")


@pytest.mark.parametrize("raw, isbn10, expected", [
    # Scientific notation lost the last digit: never used, even though 9780439023480's
    # checksum is wrong anyway; the ISBN-13 comes from the valid ISBN-10.
    ("9.78043902348e+12", "0439023483", "9780439023481"),
    ("9.78043965548e+12", "043965548X", "9780439655484"),
    ("9.78043902348e+12", None, None),                 # nothing valid to derive from
    ("76783609419.0", "0553609416", "9780553609417"),  # 11-digit .0 value (book 958) is not an ISBN
    ("76783609419.0", None, None),
    ("195170342.0", None, None),
    ("9780439023481", None, "9780439023481"),          # a real 13-digit value is kept
    ("9780439023481.0", None, "9780439023481"),
    ("9780439023480", None, None),                     # bad check digit
    ("9791032300824", "0439023483", "9791032300824"),  # a valid given value wins over derivation
    ("", "0439023483", "9780439023481"),
    ("", None, None),
])
def test_clean_isbn13(raw, isbn10, expected):
    assert parse.clean_isbn13(raw, isbn10) == expected


def test_scientific_isbn13_with_valid_checksum_is_still_not_trusted():
    # Book 2: 9.78043955493e+12 read as 9780439554930 passes the checksum, but the
    # float kept only 12 significant digits, so it is not taken from the field...
    assert parse.is_valid_isbn13("9780439554930")
    assert parse.clean_isbn13("9.78043955493e+12", None) is None
    # ...only derived from the book's valid ISBN-10.
    assert parse.clean_isbn13("9.78043955493e+12", "0439554934") == "9780439554930"


@pytest.mark.parametrize("raw, expected", [
    ("2008.0", 2008), ("-720.0", -720), ("-1750.0", -1750), ("8.0", 8), ("1997", 1997),
    ("", None), (None, None), ("  ", None), ("abc", None), ("2008.5", None),
])
def test_clean_year(raw, expected):
    assert parse.clean_year(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("J.K. Rowling, Mary GrandPré", ["J.K. Rowling", "Mary GrandPré"]),
    ("William Shakespeare, Robert           Jackson", ["William Shakespeare", "Robert Jackson"]),
    ("Unknown, Seamus Heaney", ["Seamus Heaney"]),
    ("Carlo Collodi, John Boyne, Monteiro Lobato, Unknown", ["Carlo Collodi", "John Boyne", "Monteiro Lobato"]),
    ("Anonymous", ["Anonymous"]),
    ("Dr. Seuss, Various", ["Dr. Seuss", "Various"]),
    ("Unknown", []),
    ("Noelle Stevenson, Grace Ellis, Noelle Stevenson", ["Noelle Stevenson", "Grace Ellis"]),
    ("A, , B,", ["A", "B"]),
    ("Omar Khayyám", ["Omar Khayyám"]),
    ("", []),
])
def test_split_authors(raw, expected):
    assert parse.split_authors(raw) == expected


def test_text_fields():
    assert parse.text_or_none("The Kite Runner ") == "The Kite Runner"
    assert parse.text_or_none(" The Fellowship of the Ring") == "The Fellowship of the Ring"
    assert parse.text_or_none("Angels & Demons  (Robert Langdon, #1)") == "Angels & Demons (Robert Langdon, #1)"
    assert parse.text_or_none("") is None
    assert parse.text_or_none("   ") is None
    # Non-ASCII passes through untouched.
    for title in ("Les Misérables", "Shōgun (Asian Saga, #1)", "الفيل الأزرق", "NARUTO -ナルト- 巻ノ四十三",
                  "Горе от ума", "Miss Peregrine’s Home", "School's Out—Forever", 'A Child Called "It"'):
        assert parse.text_or_none(title) == title


def test_language_and_image():
    assert parse.clean_language("en-US") == "en-US"
    assert parse.clean_language("") is None
    assert parse.clean_image_url(
        "https://s.gr-assets.com/assets/nophoto/book/111x148-bcc042a9c91a29c1d680899eff700a03.png") is None
    url = "https://images.gr-assets.com/books/1447303603m/2767052.jpg"
    assert parse.clean_image_url(url) == url
    assert parse.clean_image_url("") is None


def test_clean_int():
    assert parse.clean_int("4780653") == 4780653
    assert parse.clean_int("12.0") == 12
    assert parse.clean_int("", default=0) == 0


@pytest.mark.parametrize("ratings, copies", [
    (0, 1), (2716, 1), (19_999, 1), (20_000, 2), (39_999, 2), (40_000, 3), (80_000, 4),
    (1_280_000, 8), (4_780_653, 9), (5_120_000, 10), (50_000_000, 10),
])
def test_copies_formula(ratings, copies):
    assert copies_for(ratings) == copies


def test_category_mapping():
    assert category_for({"to-read": 500, "fiction": 400, "fantasy": 40, "young-adult": 30}) == "Fantasy"
    # A tie goes to the category name that sorts first.
    assert category_for({"science-fiction": 40, "fantasy": 40}) == "Fantasy"
    # Full-width tag names are the same tag.
    assert category_for({"Ｍａｎｇａ": 10}) == "Graphic Novels & Comics"
    assert category_for({"to-read": 10, "fiction": 9}) == UNCATEGORIZED
    assert category_for({}) == UNCATEGORIZED


def test_duplicate_book_tag_pairs_keep_the_higher_count(tmp_path):
    books = [{"goodreads_book_id": 3}, {"goodreads_book_id": 4}]
    tags = {22743: "romance", 1: "fantasy", 2: "to-read"}
    # Book 3 lists (3, 22743) twice, as the real file does ("3,22743,6066" and "3,22743,6065").
    pairs = [(3, 22743, 6066), (3, 22743, 6065), (3, 1, 6066), (4, 2, 99), (4, 99999, 5)]
    assert book_categories(books, tags, pairs) == {3: "Fantasy", 4: UNCATEGORIZED}


def test_crlf_tags_file_reads_like_lf(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_bytes("tag_id,tag_name\r\n0,-\r\n1,--1-\r\n2,Ｍａｎｇａ\r\n3,029-نجيب-محفوظ\r\n".encode())
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["tag_id"], r["tag_name"]) for r in rows] == [
        ("0", "-"), ("1", "--1-"), ("2", "Ｍａｎｇａ"), ("3", "029-نجيب-محفوظ")]


def test_stable_choices_are_fixed():
    assert stable_fraction("role", 7) == stable_fraction("role", 7)
    assert stable_fraction("role", 7) != stable_fraction("role", 8)
    assert 0 <= stable_fraction("x") < 1
    table = ((0.5, "a"), (1.0, "b"))
    assert pick(table, "role", 7) == ("a" if stable_fraction("role", 7) < 0.5 else "b")
