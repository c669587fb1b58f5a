"""Who is calling: the key from the request headers, looked up by hash, and what it may do."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from ipaddress import ip_address

from relaygate.core.errors import Forbidden, Unauthorized
from relaygate.core.records import KeyRecord
from relaygate.relay.catalog import Catalog

MAX_KEY_LENGTH = 256
_MISSING = (
    "You didn't provide an API key. Send it as 'Authorization: Bearer sk-...' "
    "(or in the x-api-key header; midjourney-proxy clients: mj-api-secret)."
)
_INVALID = "Incorrect API key provided. Check the key, or ask the operator for a new one."


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


MJ_PLACEHOLDERS = frozenset({"", "midjourney-proxy"})
"""Authorization values midjourney-proxy clients send beside their `mj-api-secret` (new-api sends
"midjourney-proxy", with or without "Bearer ")."""


def key_from_headers(headers: Mapping[str, str], query_key: str | None = None) -> str | None:
    """The presented key: Bearer token, x-api-key, x-goog-api-key, ?key= for Gemini clients, or mj-api-secret for
    midjourney-proxy clients (when Authorization is absent or only a placeholder; "Bearer " before it is allowed,
    as new-api allows it)."""
    auth = headers.get("Authorization")
    mj_secret = headers.get("mj-api-secret")
    if auth:
        scheme, _, value = auth.partition(" ")
        bearer = scheme.lower() == "bearer"
        token = value.strip() if bearer else ""
        if mj_secret and (token if bearer else auth.strip()) in MJ_PLACEHOLDERS:
            return _without_bearer(mj_secret)
        return token
    return (headers.get("x-api-key") or headers.get("x-goog-api-key") or (mj_secret and _without_bearer(mj_secret))
            or query_key)


def _without_bearer(secret: str) -> str:
    scheme, _, value = secret.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else secret


_NEEDS = {
    "client": ("client_key_required", "This is an admin key: it manages relaygate under /api and cannot call models. "
               "Call this route with a client key (an admin issues one with POST /api/keys)."),
    "admin": ("admin_only", "This route is for administrators and needs an admin key; this is a client key, "
              "which calls the /v1 routes."),
}


def authenticate(catalog: Catalog, raw: str | None, now: float, *, kind: str | None = "client") -> KeyRecord:
    """The usable key, or Unauthorized; every key that is not usable (unknown, disabled, expired, its user
    disabled) gets the same answer, so the answer never tells that a key exists. A usable key of the other kind
    than the route takes (`kind`; None takes both) is told which kind the route needs."""
    if raw is None:
        raise Unauthorized(_MISSING)
    if not raw or len(raw) > MAX_KEY_LENGTH:
        raise Unauthorized(_INVALID)
    key = catalog.key(hash_key(raw))
    if key is None or not key.usable_at(now):
        raise Unauthorized(_INVALID)
    if kind is not None and key.kind != kind:
        code, message = _NEEDS[kind]
        raise Forbidden(message, code=code)
    return key


def check_ip(key: KeyRecord, client_ip: str) -> None:
    if key.allowed_networks is None:
        return
    try:
        addr = ip_address(client_ip)
    except ValueError:
        addr = None
    if addr is None or not any(addr in net for net in key.allowed_networks):
        raise Forbidden(
            f"This API key may not be used from {client_ip}; ask the operator to allow this address.",
            code="ip_not_allowed",
        )


def check_model(key: KeyRecord, model: str) -> None:
    if key.allowed_models is not None and model not in key.allowed_models:
        raise Forbidden(
            f"This API key may not use the model '{model}'; it may use: {', '.join(sorted(key.allowed_models))}.",
            code="model_not_allowed",
            param="model",
        )
