"""Domain errors mapped once to HTTP answers: a status code and a body that names the field and the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def _json_safe(value: Any) -> Any:
    """``value`` if it can be written as strict JSON (no NaN/Infinity, no lone surrogates), else its repr."""
    try:
        json.dumps(jsonable_encoder(value), allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return repr(value)
    return value


def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, with every echoed ``input`` and ``ctx`` made JSON-safe and no password echoed.

    The default handler echoes the rejected value, so a NaN, an Infinity or a lone surrogate in a request turned
    its own 422 into a 500 when the answer was rendered.
    """
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if any("password" in str(part) for part in error.get("loc", ())):
            error.pop("input", None)  # never echo a password back
        for key in ("input", "ctx"):
            if key in error:
                error[key] = _json_safe(error[key])
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install(app: FastAPI) -> None:
    """Install one handler per mapped domain error, and the request-validation handler."""
    app.add_exception_handler(RequestValidationError, validation_error)
    for error, mapper in MAPPERS.items():
        app.add_exception_handler(error, _handler(mapper))


def _handler(mapper: ErrorMapper) -> Callable[[Request, Exception], JSONResponse]:
    def handle(_request: Request, exc: Exception) -> JSONResponse:
        return mapper(exc)

    return handle
