"""Library rules as plain functions over ids and an explicit `now`.

The API modules translate a ServiceError into a JSON error response; nothing a
service wrote before raising is committed (the caller rolls the session back).
"""


class ServiceError(Exception):
    """A request the library rules refuse; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409
