"""Catalogue API: book search and detail.

Both endpoints are public: the catalogue is what a visitor browses before
signing in. A signed-in member's searches are attributed to them in the log.
"""
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from ..errors import error_response
from ..extensions import db
from ..timeutil import utcnow
from . import schemas
from .services import ServiceError, catalogue

blp = Blueprint("api_catalogue", __name__, url_prefix="/api",
                description="Catalogue: search books and read one book's record.")


@blp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    db.session.rollback()
    return error_response(exc.status, exc.message, **exc.details)


@blp.route("/books")
class Books(MethodView):
    @blp.arguments(schemas.BookSearchArgs, location="query", as_kwargs=True)
    @blp.response(200, schemas.BookPage)
    @blp.alt_response(422, schema=schemas.ErrorBody, description="Invalid query parameters")
    def get(self, page, per_page, q=None, category=None):
        """Search the catalogue by title or author and by category.

        `q` is matched case-insensitively as plain text (`%` and `_` are not
        wildcards). Every search with a non-blank `q` is logged.
        """
        q = q.strip() if q else None
        category = category.strip() if category else None
        books, total = catalogue.search_books(q, category, page, per_page)
        # Built before the commit: committing expires every loaded book, and reading
        # them afterwards would reload each book and its authors one by one (N+1).
        body = {"items": [catalogue.book_summary(b) for b in books],
                "total": total, "page": page, "per_page": per_page}
        if q:
            user_id = current_user.id if current_user.is_authenticated else None
            catalogue.log_search(q, total, user_id, utcnow())
            db.session.commit()
        return body


@blp.route("/books/<int:book_id>")
class BookDetail(MethodView):
    @blp.response(200, schemas.BookDetail)
    @blp.alt_response(404, schema=schemas.ErrorBody, description="No book with this id")
    def get(self, book_id):
        """One book with its copies, authors and category; counts one view."""
        if book_id > schemas.MAX_ID:
            return error_response(404, f"Book {book_id} not found", book_id=book_id)
        book = catalogue.view_book(book_id)
        body = catalogue.book_detail(book)
        db.session.commit()
        return body
