"""Path and query parameters of the admin API, read and bounded: what the database holds, or a 400 naming it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from relaygate.core.bounds import INT32_MAX, MAX_UNIX_TIME
from relaygate.core.errors import BadRequest

ParamType = Literal["id", "limit", "time", "text", "kind"]
MAX_LIMIT = 1000
MAX_TEXT = 128
KINDS = ("client", "admin")
_DIGITS = re.compile(r"[0-9]{1,20}")
"""What an id or a limit is written as: int() alone would also take "1_0", " 7" and "１" (a full-width one)."""
_NUMBER = re.compile(r"[0-9]{1,20}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?")
"""A unix time as JSON writes a number (float() would also take "1_0", " 7", "nan" and other scripts' digits)."""


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter a route reads (the OpenAPI document lists them from here)."""

    name: str
    type: ParamType
    description: str


def path_id(match_info: Mapping[str, str], name: str = "id") -> int:
    return _int(match_info[name], name, 1, INT32_MAX, "path parameter")


def path_text(match_info: Mapping[str, str], name: str) -> str:
    return text(match_info[name], name, "path parameter")


def _int(raw: str, name: str, low: int, high: int, where: str) -> int:
    value = int(raw) if _DIGITS.fullmatch(raw) else low - 1
    if not low <= value <= high:
        raise BadRequest(f"The {where} '{name}' must be an integer from {low} to {high}.", param=name)
    return value


def text(raw: str, name: str, where: str = "query parameter") -> str:
    if not raw or len(raw) > MAX_TEXT or "\x00" in raw or not raw.isprintable():
        raise BadRequest(f"The {where} '{name}' must be 1 to {MAX_TEXT} printable characters.", param=name)
    return raw


def _time(raw: str, name: str) -> float:
    value = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not 0 <= value <= MAX_UNIX_TIME:  # NaN fails this too
        raise BadRequest(f"The query parameter '{name}' must be a unix time (seconds, 0 to {MAX_UNIX_TIME:.0f}).",
                         param=name)
    return value


def read_query(query: Mapping[str, str], params: tuple[Param, ...]) -> dict[str, object]:
    """The route's query parameters that are present, checked; unknown ones are ignored, as everywhere."""
    out: dict[str, object] = {}
    for p in params:
        raw = query.get(p.name)
        if raw is None:
            continue
        if p.type == "id":
            out[p.name] = _int(raw, p.name, 1, INT32_MAX, "query parameter")
        elif p.type == "limit":
            out[p.name] = _int(raw, p.name, 1, MAX_LIMIT, "query parameter")
        elif p.type == "time":
            out[p.name] = _time(raw, p.name)
        elif p.type == "kind":
            if raw not in KINDS:
                raise BadRequest(f"The query parameter '{p.name}' must be one of {', '.join(KINDS)}.", param=p.name)
            out[p.name] = raw
        else:
            out[p.name] = text(raw, p.name)
    return out
