"""Marshmallow schemas for the catalogue and lending JSON API.

Inputs: JSON bodies reject unknown fields and non-integer ids (`strict`);
query strings are text, so their integers are parsed leniently but ranged.
Outputs: every instant is written as UTC with a `Z` (see app.timeutil).
"""
from collections.abc import Mapping
from datetime import datetime, timedelta

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from ..timeutil import isoformat_z, utcnow
from .models import LoanStatus, ReservationStatus, VerificationStatus

# Ids are PostgreSQL `integer` columns; larger numbers cannot name a row, and
# SQLite's driver overflows on them, so they are refused before any query.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100
MAX_QUERY_LENGTH = 200

_id = {"validate": validate.Range(min=1, max=MAX_ID)}


# How far from now staff may set a loan's due time: back-dated records of up to ten
# years, and at most a year ahead. Outside that a date is a typo (and year-9999
# values do not survive conversion to UTC).
DUE_AT_WINDOW = (timedelta(days=3653), timedelta(days=366))


def _due_at_in_window(value: datetime) -> None:
    behind, ahead = DUE_AT_WINDOW
    now = utcnow()
    if not now - behind <= value <= now + ahead:
        raise ValidationError(f"due_at must lie between {behind.days} days before and {ahead.days} days after now")


class UTCInstant(fields.DateTime):
    """Serialises an aware datetime as `2024-03-11T07:30:00Z`."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat_z(value)


def _no_control_characters(value: str) -> None:
    # PostgreSQL cannot store NUL in text, and no title contains control characters.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("Must not contain control characters.")


# --- query strings -----------------------------------------------------------

class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                          metadata={"description": "1-based page number"})
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE),
                              metadata={"description": f"Items per page, 1..{MAX_PER_PAGE}"})


class BookSearchArgs(PageArgs):
    q = fields.String(load_default=None,
                      validate=[validate.Length(max=MAX_QUERY_LENGTH), _no_control_characters],
                      metadata={"description": "Case-insensitive text found in the title or an author's name"})
    category = fields.String(load_default=None,
                             validate=[validate.Length(max=100), _no_control_characters],
                             metadata={"description": "Category name (case-insensitive, exact)"})


class LoanListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(LoanStatus.ALL))
    overdue = fields.Boolean(load_default=None,
                             metadata={"description": "true: active and past due now; false: all others"})
    user_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "Staff only: one member's loans"})


class ReservationListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(ReservationStatus.ALL))


class MemberListArgs(PageArgs):
    verification = fields.String(load_default=None, validate=validate.OneOf(VerificationStatus.ALL),
                                 metadata={"description": "Members with at least one check in this state"})
    kind = fields.String(load_default=None, validate=validate.OneOf(("email", "identity", "professional")),
                         metadata={"description": "Restrict `verification` to one kind of check"})


# --- JSON bodies ---------------------------------------------------------------

class JsonObject(Schema):
    """A JSON request body, which must be an object (not a list, string or number)."""

    @pre_load
    def _require_object(self, data, **_kwargs):
        if not isinstance(data, Mapping):
            raise ValidationError(f"The JSON body must be an object, not {type(data).__name__}", "body")
        return data


class BorrowIn(JsonObject):
    book_id = fields.Integer(required=True, strict=True, **_id)
    due_at = fields.AwareDateTime(
        load_default=None, validate=_due_at_in_window,
        metadata={"description": "Staff only: ISO 8601 instant with an offset, e.g. 2024-03-10T23:30:00-08:00"})
    user_id = fields.Integer(load_default=None, strict=True,
                             metadata={"description": "Staff only: lend to this member instead of yourself"},
                             **_id)


class ReserveIn(JsonObject):
    book_id = fields.Integer(required=True, strict=True, **_id)


class VerificationIn(JsonObject):
    kind = fields.String(required=True, validate=validate.OneOf(("email", "identity", "professional")))
    status = fields.String(required=True, validate=validate.OneOf(VerificationStatus.ALL))


# --- responses -------------------------------------------------------------------

class BookSummary(Schema):
    id = fields.Integer()
    title = fields.String()
    authors = fields.List(fields.String())
    category = fields.String(allow_none=True)
    publication_year = fields.Integer(allow_none=True)
    total_copies = fields.Integer()
    available_copies = fields.Integer()


class BookDetail(BookSummary):
    original_title = fields.String(allow_none=True)
    isbn10 = fields.String(allow_none=True)
    isbn13 = fields.String(allow_none=True)
    language_code = fields.String(allow_none=True)
    view_count = fields.Integer()
    image_url = fields.String(allow_none=True)


class _Page(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class BookPage(_Page):
    items = fields.List(fields.Nested(BookSummary))


class LoanOut(Schema):
    id = fields.Integer()
    book_id = fields.Integer()
    user_id = fields.Integer()
    borrowed_at = UTCInstant()
    due_at = UTCInstant()
    returned_at = UTCInstant(allow_none=True)
    status = fields.String()
    overdue = fields.Boolean(metadata={"description": "Active and past due at the time of the request"})
    renewals = fields.Integer()
    fine_cents = fields.Integer()


class LoanPage(_Page):
    items = fields.List(fields.Nested(LoanOut))


class ReservationOut(Schema):
    id = fields.Integer()
    book_id = fields.Integer()
    user_id = fields.Integer()
    status = fields.String()
    created_at = UTCInstant()
    position = fields.Integer(allow_none=True,
                              metadata={"description": "1-based place in the book's queue; null unless waiting"})


class ReservationPage(_Page):
    items = fields.List(fields.Nested(ReservationOut))


class MemberOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    account_status = fields.String()
    email_verification = fields.String()
    identity_verification = fields.String()
    professional_verification = fields.String()
    verification_requested_at = UTCInstant(allow_none=True)


class MemberPage(_Page):
    items = fields.List(fields.Nested(MemberOut))


class ErrorOut(Schema):
    code = fields.Integer()
    message = fields.String()


class ErrorBody(Schema):
    error = fields.Nested(ErrorOut)
