"""The one error tree: every failure a client can see, with its HTTP status and OpenAI code.

RelayError
├── BadRequest (400)              invalid_request_error / a param-specific code
│   ├── BodyTooLarge (413)
│   ├── InvalidAudio (400)        invalid_audio: an upload that is not readable audio
│   └── FetchRefused (400)        a URL or file relaygate will not fetch or read; the code names the rule:
│       │                         url_not_allowed, too_many_redirects, fetch_timeout
│       ├── FileTooLarge (413)    file_too_large, archive_too_large, too_many_pages/_sheets/_rows/_slides,
│       │                         extraction_memory_exceeded, extraction_timeout
│       ├── UnsupportedFile (415) unsupported_file_type, empty_file, unsupported_text_encoding, encrypted_file
│       └── UnreadableFile (422)  unreadable_file: the type is right but the content cannot be parsed
├── Unauthorized (401)            invalid_api_key
├── Forbidden (403)               permission_error: model_not_allowed, ip_not_allowed, admin_only, …
│   └── QuotaExhausted (403)      insufficient_quota: insufficient_user_quota / insufficient_token_quota
├── NotFound (404)                model_not_found, not_found
├── Conflict (409)                already_exists, last_admin
├── RateLimited (429)             rate_limit_exceeded, carries retry_after
├── UpstreamFailed (502)          upstream_error
├── FetchFailed (502)             fetch_failed: the server holding a file failed (status, reset, DNS)
├── ServiceUnavailable (503)      no_available_channel, draining, store_unavailable, rate_limiter_unavailable
├── UpstreamTimeout (504)         upstream_timeout
└── UpstreamClientError (4xx)     an upstream refusal caused by the client's own request, passed through
"""

from __future__ import annotations


class RelayError(Exception):
    """A failure with an HTTP status, an OpenAI error type and code, and a message for the client."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class BadRequest(RelayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request_error"


class BodyTooLarge(BadRequest):
    status = 413
    code = "request_too_large"


class InvalidAudio(BadRequest):
    """An uploaded file no audio parser can read, or one with no audio in it."""

    code = "invalid_audio"


class FetchRefused(BadRequest):
    """A URL, redirect, download or file that breaks one of the fetcher's rules; never echoes the body."""

    code = "url_not_allowed"


class FileTooLarge(FetchRefused):
    status = 413
    code = "file_too_large"


class UnsupportedFile(FetchRefused):
    status = 415
    code = "unsupported_file_type"


class UnreadableFile(FetchRefused):
    status = 422
    code = "unreadable_file"


class Unauthorized(RelayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class Forbidden(RelayError):
    """The caller may not do this (OpenAI's SDKs raise PermissionDeniedError)."""

    status = 403
    type = "permission_error"
    code = "forbidden"


class QuotaExhausted(Forbidden):
    """Money: a balance or key quota that cannot cover the request. Only this type says "check your billing"."""

    type = "insufficient_quota"
    code = "insufficient_quota"


class NotFound(RelayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class Conflict(RelayError):
    """The change conflicts with what is stored: a name that exists, the last admin's access."""

    status = 409
    type = "invalid_request_error"
    code = "already_exists"


class RateLimited(RelayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFailed(RelayError):
    status = 502
    type = "upstream_error"
    code = "upstream_error"


class FetchFailed(RelayError):
    """The server holding a file failed: an error status, a reset connection, an unknown host."""

    status = 502
    type = "upstream_error"
    code = "fetch_failed"


class ServiceUnavailable(RelayError):
    status = 503
    type = "server_error"
    code = "no_available_channel"


class UpstreamTimeout(RelayError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


class UpstreamClientError(RelayError):
    """The upstream refused the request because of its content (e.g. context too long)."""

    def __init__(self, status: int, message: str, *, type_: str, code: str | None, param: str | None) -> None:
        super().__init__(message, code=code or "upstream_rejected", param=param)
        self.status = status
        self.type = type_
