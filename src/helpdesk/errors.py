"""The two error types of the help desk: a startup mistake an operator can fix, and an HTTP error answer."""

from __future__ import annotations


class HelpdeskError(Exception):
    """A problem the operator can fix (bad database URL, busy port); the message says what to do."""


class ApiError(Exception):
    """An HTTP error answer: ``{"error": message}``, or ``{"errors": [...]}`` for a 422 validation failure."""

    def __init__(self, status: int, message: str | None = None, *, errors: list[str] | None = None) -> None:
        super().__init__(message or "; ".join(errors or []))
        self.status = status
        self.body: dict = {"errors": errors} if errors is not None else {"error": message}
