"""Cleaning of single goodbooks-10k field values (pure functions, no I/O).

Each function takes the raw CSV text and returns the cleaned value or None;
none of them ever makes up a value the source does not support.
"""
import re

_DIGITS = re.compile(r"\d+")
_ISBN10_BODY = re.compile(r"\d{9}[\dX]")
_SPACES = re.compile(r"\s+")
_FLOAT_INT = re.compile(r"-?\d+(?:\.0*)?")

# Goodreads' generic cover images ("nophoto/book/111x148.png" and similar).
_NOPHOTO = "/nophoto/"


def collapse_spaces(text: str) -> str:
    """Trim and turn every run of whitespace into one space."""
    return _SPACES.sub(" ", text).strip()


def text_or_none(raw: str | None) -> str | None:
    """The value with whitespace runs collapsed and ends stripped; empty → None."""
    if raw is None:
        return None
    return collapse_spaces(raw) or None


def isbn10_check_digit(first9: str) -> str:
    """The ISBN-10 check character (0-9 or X) for nine digits."""
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def isbn13_check_digit(first12: str) -> str:
    """The ISBN-13 (EAN-13) check digit for twelve digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_isbn10(value: str) -> bool:
    return bool(_ISBN10_BODY.fullmatch(value)) and isbn10_check_digit(value[:9]) == value[9]


def is_valid_isbn13(value: str) -> bool:
    return len(value) == 13 and value.isdigit() and isbn13_check_digit(value[:12]) == value[12]


def clean_isbn10(raw: str | None) -> str | None:
    """A checksum-valid ISBN-10, restoring leading zeros the CSV lost; else None.

    The source stored ISBNs as numbers, so `439023483` is really `0439023483`.
    Padding only ever adds zeros in front, and the result is kept only when the
    check digit agrees, so a damaged value is dropped, never repaired.
    """
    value = (raw or "").strip().upper()
    if value.endswith(".0"):
        value = value[:-2]
    if not value or len(value) > 10 or not _ISBN10_BODY.fullmatch(value.rjust(10, "0")):
        return None
    value = value.rjust(10, "0")
    return value if is_valid_isbn10(value) else None


def isbn13_from_isbn10(isbn10: str) -> str:
    """The ISBN-13 of a valid ISBN-10: 978 + its first nine digits + a new check digit."""
    first12 = "978" + isbn10[:9]
    return first12 + isbn13_check_digit(first12)


def clean_isbn13(raw: str | None, isbn10: str | None) -> str | None:
    """A valid ISBN-13: the given one if it is 13 exact digits with a valid check digit,
    else derived from the valid ISBN-10, else None.

    Values in float or scientific notation (`9.78043902348e+12`) kept only 12
    significant digits, so their last digit is gone (and the 12th may be rounded):
    they are never used, whatever their checksum says.
    """
    value = (raw or "").strip()
    if value.endswith(".0"):
        value = value[:-2]
    if value.isdigit() and is_valid_isbn13(value):
        return value
    if isbn10:
        return isbn13_from_isbn10(isbn10)
    return None


def clean_year(raw: str | None) -> int | None:
    """`2008.0` → 2008, `-720.0` → -720 (BC), empty or not a whole number → None."""
    value = (raw or "").strip()
    if not _FLOAT_INT.fullmatch(value):
        return None
    return int(value.split(".")[0])


def clean_int(raw: str | None, default: int = 0) -> int:
    """A whole number written as `123` or `123.0`; anything else → `default`."""
    value = (raw or "").strip()
    return int(value.split(".")[0]) if _FLOAT_INT.fullmatch(value) else default


# "Unknown" says the name is missing; it is not a person to list. "Anonymous"
# and "Various" are kept: they are how catalogues credit such works.
PLACEHOLDER_AUTHORS = frozenset({"unknown"})


def split_authors(raw: str | None) -> list[str]:
    """The names of a comma-separated authors field: spacing collapsed, in order,
    each name once, the placeholder `Unknown` left out."""
    names: list[str] = []
    for part in (raw or "").split(","):
        name = collapse_spaces(part)
        if name and name.lower() not in PLACEHOLDER_AUTHORS and name not in names:
            names.append(name)
    return names


def clean_language(raw: str | None) -> str | None:
    """The language code as given (`eng`, `en-US`, …); empty → None."""
    return text_or_none(raw)


def clean_image_url(raw: str | None) -> str | None:
    """The cover URL, or None for empty values and Goodreads' generic 'nophoto' image."""
    value = text_or_none(raw)
    if value is None or _NOPHOTO in value:
        return None
    return value
