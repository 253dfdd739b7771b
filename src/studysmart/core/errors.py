"""Domain errors mapped once to HTTP answers: a status code and a body that names the field and the reason."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from studysmart.tasks.service import AlreadyCompleted, InvalidTaskInput, TaskNotFound
from studysmart.users.service import EmailTaken, InvalidCredentials, NotAuthenticated, TooManyAttempts

ErrorMapper = Callable[[Exception], JSONResponse]


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def field_error(status: int, field: str, reason: str, where: str = "body") -> JSONResponse:
    """A FastAPI-style validation body naming one field."""
    return JSONResponse({"detail": [{"loc": [where, field], "msg": reason, "type": "value_error"}]},
                        status_code=status)


MAPPERS: dict[type[Exception], ErrorMapper] = {
    TaskNotFound: lambda e: _detail(404, "task not found"),
    AlreadyCompleted: lambda e: _detail(409, "task is already completed"),
    InvalidTaskInput: lambda e: field_error(422, e.field, e.reason),  # type: ignore[attr-defined]
    EmailTaken: lambda e: _detail(409, "an account with this email already exists"),
    InvalidCredentials: lambda e: _detail(400, str(e)),
    NotAuthenticated: lambda e: _detail(401, "not authenticated", {"WWW-Authenticate": "Bearer"}),
    TooManyAttempts: lambda e: _detail(429, str(e), {"Retry-After": str(e.retry_after)}),  # type: ignore[attr-defined]
}


def register_error(error: type[Exception], mapper: ErrorMapper) -> None:
    """Map another domain's error (planning, training) to an HTTP answer."""
    MAPPERS[error] = mapper


def install(app: FastAPI) -> None:
    """Install one handler per mapped domain error."""
    for error, mapper in MAPPERS.items():
        app.add_exception_handler(error, _handler(mapper))


def _handler(mapper: ErrorMapper) -> Callable[[Request, Exception], JSONResponse]:
    def handle(_request: Request, exc: Exception) -> JSONResponse:
        return mapper(exc)

    return handle
