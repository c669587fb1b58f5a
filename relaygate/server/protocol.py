"""Requests aiohttp refuses before they reach the app (a header past the size limit, malformed HTTP) answered as
JSON errors with a request id, echoing nothing of the request, and logged without it.

aiohttp's own answer is plain text quoting the offending line (an oversized `Authorization: Bearer sk-…` header
came back in the body and went to the log with its traceback); RequestHandler.handle_error is its one hook.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from relaygate.core.errors import BadRequest, RelayError
from relaygate.server.errors import error_response
from relaygate.server.openai_routes import new_request_id

log = logging.getLogger("relaygate.server")

MAX_HEADER_BYTES = 32768
"""Header values (and the request line) up to 32 KiB: a 10 KB junk Bearer gets the same 401 as any wrong key."""


class _HeaderTooLarge(BadRequest):
    status = 431
    code = "header_too_large"


def refusal(status: int, exc: BaseException | None) -> RelayError:
    """What the client is told, from the status and the kind of parser error only, never its text."""
    if isinstance(exc, LineTooLong):
        return _HeaderTooLarge(f"A request header (or the request line) is larger than {MAX_HEADER_BYTES} bytes.")
    if status >= 500:
        return RelayError("The relay failed unexpectedly; try again.")
    return BadRequest("The request is not valid HTTP/1.1; check the request line and headers.", code="bad_http")


class _JsonErrorHandler(RequestHandler):
    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        request_id = new_request_id()
        err = refusal(status, exc)
        if status >= 500:
            log.error("request failed in the HTTP server", exc_info=exc, extra={"request_id": request_id})
        else:  # the parser's message quotes the request (a key, perhaps): only its kind is logged
            log.info("malformed request refused", extra={"request_id": request_id, "status": err.status,
                                                          "reason": type(exc).__name__ if exc else "unknown"})
        response = error_response(err, request_id)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An AppRunner whose connections answer parser errors as JSON."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _JsonErrorServer(made.request_handler, request_factory=made.request_factory,
                                handler_cancellation=made.handler_cancellation, loop=made._loop, **made._kwargs)
