"""Lending API: loans, reservations, member verification.

Members act on their own loans and reservations; staff (`is_admin`: admins
and librarians) may act on anyone's, lend with an explicit due time, and
review member verification. The rules live in services/lending.py.
"""
from blinker import Namespace
from flask import current_app
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from ..auth import admin_required, login_required
from ..errors import error_response
from ..extensions import db
from ..timeutil import utcnow
from . import schemas
from .services import Forbidden, NotFound, ServiceError, lending, members

blp = Blueprint("api_lending", __name__, url_prefix="/api",
                description="Loans, reservations and member verification.")

_signals = Namespace()
#: Sent with `loan=` (a dict as the API returns it) after a borrow is committed.
loan_borrowed = _signals.signal("loan-borrowed")
#: Sent with `loan=` (a dict as the API returns it) after a return is committed.
loan_returned = _signals.signal("loan-returned")


@blp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    db.session.rollback()
    return error_response(exc.status, exc.message, **exc.details)


def _actor() -> lending.Actor:
    return lending.Actor(user_id=current_user.id, is_staff=bool(current_user.is_admin))


def _rules() -> lending.Rules:
    return lending.Rules.from_config(current_app.config)


def _check_id(value: int, what: str) -> None:
    if value > schemas.MAX_ID:
        raise NotFound(f"{what.capitalize()} {value} not found", **{f"{what}_id": value})


def _page(items, total, args) -> dict:
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


_errors = {
    401: "Not signed in", 403: "Not allowed for this account", 404: "Unknown id",
    409: "Refused by a lending rule", 422: "Invalid input",
}


def _document_errors(*codes):
    def decorate(view):
        for code in codes:
            view = blp.alt_response(code, schema=schemas.ErrorBody, description=_errors[code])(view)
        return view
    return decorate


@blp.route("/loans")
class Loans(MethodView):
    decorators = [login_required]

    @blp.arguments(schemas.LoanListArgs, location="query")
    @blp.response(200, schemas.LoanPage)
    @_document_errors(401, 403, 422)
    def get(self, args):
        """Your loans, newest first; staff see everyone's (optionally one member's).

        `overdue` is evaluated when the request arrives: active and due before now.
        """
        now = utcnow()
        loans, total = lending.list_loans(_actor(), now, args["page"], args["per_page"], status=args["status"],
                                          overdue=args["overdue"], user_id=args["user_id"])
        return _page([lending.loan_dict(loan, now) for loan in loans], total, args)

    @blp.arguments(schemas.BorrowIn)
    @blp.response(201, schemas.LoanOut)
    @_document_errors(401, 403, 404, 409, 422)
    def post(self, data):
        """Borrow a book. Staff may also set `due_at` and lend to another member (`user_id`)."""
        actor = _actor()
        if not actor.is_staff and data["due_at"] is not None:
            raise Forbidden("Only staff may set due_at")
        if not actor.is_staff and data["user_id"] not in (None, actor.user_id):
            raise Forbidden("Only staff may lend to another member")
        now = utcnow()
        loan = lending.borrow(data["user_id"] or actor.user_id, data["book_id"], now, _rules(),
                              due_at=data["due_at"])
        body = lending.loan_dict(loan, now)
        db.session.commit()
        loan_borrowed.send(current_app._get_current_object(), loan=body)
        return body


@blp.route("/loans/<int:loan_id>/return")
class LoanReturn(MethodView):
    decorators = [login_required]

    @blp.response(200, schemas.LoanOut)
    @_document_errors(401, 403, 404, 409)
    def post(self, loan_id):
        """Return a loan (its borrower or staff); a late return is fined per started day."""
        _check_id(loan_id, "loan")
        now = utcnow()
        loan = lending.return_loan(loan_id, _actor(), now, _rules())
        body = lending.loan_dict(loan, now)
        db.session.commit()
        loan_returned.send(current_app._get_current_object(), loan=body)
        return body


@blp.route("/loans/<int:loan_id>/renew")
class LoanRenew(MethodView):
    decorators = [login_required]

    @blp.response(200, schemas.LoanOut)
    @_document_errors(401, 403, 404, 409)
    def post(self, loan_id):
        """Renew a loan by LOAN_DAYS from its current due time (at most MAX_RENEWALS times)."""
        _check_id(loan_id, "loan")
        now = utcnow()
        loan = lending.renew(loan_id, _actor(), now, _rules())
        body = lending.loan_dict(loan, now)
        db.session.commit()
        return body


@blp.route("/reservations")
class Reservations(MethodView):
    decorators = [login_required]

    @blp.arguments(schemas.ReservationListArgs, location="query")
    @blp.response(200, schemas.ReservationPage)
    @_document_errors(401, 422)
    def get(self, args):
        """Your reservations, newest first, with your place in each waiting queue."""
        reservations, total = lending.list_reservations(_actor(), args["page"], args["per_page"], args["status"])
        positions = lending.queue_positions(reservations)
        return _page([lending.reservation_dict(r, positions.get(r.id)) for r in reservations], total, args)

    @blp.arguments(schemas.ReserveIn)
    @blp.response(201, schemas.ReservationOut)
    @_document_errors(401, 403, 404, 409, 422)
    def post(self, data):
        """Join the queue for a book."""
        reservation = lending.reserve(current_user.id, data["book_id"], utcnow())
        position = lending.queue_positions([reservation]).get(reservation.id)
        body = lending.reservation_dict(reservation, position)
        db.session.commit()
        return body


@blp.route("/reservations/<int:reservation_id>/cancel")
class ReservationCancel(MethodView):
    decorators = [login_required]

    @blp.response(200, schemas.ReservationOut)
    @_document_errors(401, 403, 404, 409)
    def post(self, reservation_id):
        """Leave a book's queue (the member who reserved, or staff)."""
        _check_id(reservation_id, "reservation")
        reservation = lending.cancel_reservation(reservation_id, _actor())
        body = lending.reservation_dict(reservation, None)
        db.session.commit()
        return body


@blp.route("/members")
class Members(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.MemberListArgs, location="query")
    @blp.response(200, schemas.MemberPage)
    @_document_errors(401, 403, 422)
    def get(self, args):
        """Staff: members by verification state, oldest request first (no e-mail addresses)."""
        found, total = members.list_members(args["page"], args["per_page"], args["verification"], args["kind"])
        return _page(found, total, args)


@blp.route("/members/<int:member_id>/verification")
class MemberVerification(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.VerificationIn)
    @blp.response(200, schemas.MemberOut)
    @_document_errors(401, 403, 404, 422)
    def post(self, data, member_id):
        """Staff: approve, reject, expire or reopen one of a member's three checks."""
        _check_id(member_id, "member")
        member = members.set_verification(member_id, data["kind"], data["status"], utcnow())
        db.session.commit()
        return member
