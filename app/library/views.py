"""Browser pages: login form, logout, home page."""
from .blueprint import bp  # noqa: F401
