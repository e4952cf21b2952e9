"""Lending API: loans, reservations, member verification."""
from flask_smorest import Blueprint

blp = Blueprint("api_lending", __name__, url_prefix="/api")
