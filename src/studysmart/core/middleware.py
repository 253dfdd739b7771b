"""ASGI middleware: refuse request bodies over a size limit with 413 (declared or streamed); security headers
(CSP, HSTS in production, no-store on the API)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised while streaming a body past the limit; an HTTPException so the framework answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")


class BodySizeLimit:
    """Answer 413 when a request body exceeds ``max_bytes`` (checks Content-Length, then counts the stream); the
    paths matching ``upload_paths`` (file uploads) may send up to ``upload_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int | None = None,
                 upload_paths: Sequence[re.Pattern[str]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = max(upload_bytes or max_bytes, max_bytes)
        self.upload_paths = tuple(upload_paths)

    def _limit(self, scope: Scope) -> int:
        path = str(scope.get("path", ""))
        return self.upload_bytes if any(p.fullmatch(path) for p in self.upload_paths) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(send, limit)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


#: The Content-Security-Policy of every response. Everything comes from this server ('self'); what is wider than
#: that, and why (NiceGUI 3.18, measured with the real-browser test, which fails on any violation):
#: - script-src 'unsafe-inline': NiceGUI's page template carries inline <script> blocks (the import map, the
#:   page's elements and its start-up code), different on every page, so neither hashes nor a fixed list fit.
#: - script-src 'unsafe-eval': NiceGUI runs element props, event handlers and `run_javascript` through `eval` /
#:   `new Function`, and Vue compiles component templates at run time.
#: - style-src 'unsafe-inline': Quasar, Vue and Tailwind write inline styles and <style> elements at run time.
#: - img-src data:: Quasar and the pages draw SVG icons from data: URLs (no external images).
#: - worker-src blob:: ReDoc (/redoc) runs its search index in a worker made from a blob: URL.
#: - connect-src 'self': NiceGUI's socket.io websocket and polling (same origin; CSP 3 lets 'self' match ws:/wss:).
#: Each of these was taken out in turn and the browser test failed: without either script-src keyword no page is
#: built; without style-src 'unsafe-inline' the charts stay 0 px high; without data: the icons are blocked; without
#: blob: ReDoc's worker is. Everything else (objects, frames, <base>, form targets, being framed) is closed, and
#: fonts, scripts and styles load only from this server.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "frame-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

#: Sent with every HTTP response: the CSP above; no page of the app may be framed by another site (clickjacking),
#: browsers must not guess content types, and other sites get no path in the Referer.
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
#: In production (served over HTTPS): browsers use HTTPS only for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
#: API answers (tokens, accounts, a student's tasks and plans) are never stored by browsers or proxies.
NO_STORE = (b"cache-control", b"no-store")
API_PREFIX = "/api/"


class SecurityHeaders:
    """Add ``SECURITY_HEADERS`` (and ``HSTS`` when ``hsts``; ``Cache-Control: no-store`` on the API) to every HTTP
    response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = (*SECURITY_HEADERS, HSTS) if hsts else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = (*self.headers, NO_STORE) if scope.get("path", "").startswith(API_PREFIX) else self.headers

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


class WithContext:
    """Put the app's context into the ASGI scope of every request and websocket under ``key``, so code mounted
    inside the app (the web pages) reads the context of the app that serves it, not a module global."""

    def __init__(self, app: ASGIApp, *, key: str, context: object) -> None:
        self.app = app
        self.key = key
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[self.key] = self.context
        await self.app(scope, receive, send)
