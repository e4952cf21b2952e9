"""Auth API: register, login, logout."""
from flask_smorest import Blueprint

blp = Blueprint("api_auth", __name__, url_prefix="/api")
