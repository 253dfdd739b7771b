"""Domain errors mapped once to HTTP answers: a status code and a body that names the field and the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from studysmart.core.exceptions import DomainError


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def field_error(status: int, field: str, reason: str, where: str = "body") -> JSONResponse:
    """A FastAPI-style validation body naming one field."""
    return JSONResponse({"detail": [{"loc": [where, field], "msg": reason, "type": "value_error"}]},
                        status_code=status)


def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    """The HTTP answer of any :class:`DomainError`."""
    assert isinstance(exc, DomainError)
    if exc.field is not None:
        return field_error(exc.status, exc.field, exc.message, exc.where)
    return _detail(exc.status, exc.message, exc.headers or None)


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
    for raw in exc.errors():
        error = dict(raw)
        if any("password" in str(part) for part in error.get("loc", ())):
            error.pop("input", None)  # never echo a password back
        for key in ("input", "ctx"):
            if key in error:
                error[key] = _json_safe(error[key])
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


class ErrorMessage(BaseModel):
    """An error answer with one message (401, 404, 409, 429...)."""

    detail: str


class ValidationIssue(BaseModel):
    """One refused input: where (``["body", "title"]``, ``["query", "limit"]``), why, and its kind."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    """A 422 answer: every refused input."""

    detail: list[ValidationIssue]


_DESCRIPTIONS = {
    400: "The request was refused: a body that cannot be parsed, or (accounts) wrong credentials",
    401: "Not authenticated (missing, invalid, expired or revoked token)",
    404: "Not found (another student's resource is indistinguishable from a missing one)",
    409: "Conflicts with the resource's state",
    413: "Request body too large",
    422: "Invalid input: the field and the reason",
    429: "Too many attempts; see Retry-After",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of these error answers (for a router's or a route's ``responses``)."""
    return {code: {"model": ValidationErrors if code == 422 else ErrorMessage, "description": _DESCRIPTIONS[code]}
            for code in codes}


NUL = "\x00"
NUL_MESSAGE = "NUL characters are not allowed"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_locations(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if NUL in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*loc, key)
            yield from _nul_locations(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_locations(item, (*loc, index))


async def refuse_nul_characters(request: Request) -> None:
    """Refuse U+0000 in any string input (path and query parameters, form fields, JSON bodies) with a 422 naming
    the field: PostgreSQL cannot store it in text, so it would otherwise fail deep inside a query as a 500.

    A dependency of the whole API router, so it runs before any other dependency or the route; FastAPI has read the
    body already, so ``form()`` and ``json()`` return the parsed copy.
    """
    found: list[tuple[str | int, ...]] = []
    for name, value in request.path_params.items():
        found.extend(_nul_locations(value, ("path", name)))
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            found.append(("query", name))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                found.append(("body", name))
    elif content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = await request.json()
        except ValueError:  # FastAPI answers malformed JSON itself
            body = None
        found.extend(_nul_locations(body, ("body",)))
    if found:
        raise RequestValidationError([{"loc": loc, "msg": NUL_MESSAGE, "type": "string_nul"} for loc in found])


def install(app: FastAPI) -> None:
    """Install the handlers of domain errors and of request validation."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DomainError, domain_error)
