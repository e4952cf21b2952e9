"""The library's data model, split by domain."""
from .activity import LoginEvent, SearchLog
from .catalogue import Author, Book, BookAuthor, Category
from .lending import Loan, LoanStatus, Reservation, ReservationStatus
from .users import AccountStatus, Role, User, VerificationStatus

__all__ = [
    "AccountStatus", "Author", "Book", "BookAuthor", "Category", "Loan", "LoanStatus",
    "LoginEvent", "Reservation", "ReservationStatus", "Role", "SearchLog", "User",
    "VerificationStatus",
]
