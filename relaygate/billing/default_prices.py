"""Prices used for common models until the operator sets their own (USD per 1M tokens, per call).

Columns: input, output, per call, cache read, cache write (None = the input price).
"""

from __future__ import annotations

from relaygate.core.records import PriceRecord

_Row = tuple[float, float, float | None, float | None, float | None]

_TABLE: dict[str, _Row] = {
    "gpt-4o": (2.5, 10.0, None, 1.25, None),
    "gpt-4o-mini": (0.15, 0.6, None, 0.075, None),
    "gpt-4.1": (2.0, 8.0, None, 0.5, None),
    "gpt-4.1-mini": (0.4, 1.6, None, 0.1, None),
    "gpt-4.1-nano": (0.1, 0.4, None, 0.025, None),
    "gpt-4-turbo": (10.0, 30.0, None, None, None),
    "gpt-4": (30.0, 60.0, None, None, None),
    "gpt-3.5-turbo": (0.5, 1.5, None, None, None),
    "gpt-3.5-turbo-instruct": (1.5, 2.0, None, None, None),
    "o1": (15.0, 60.0, None, 7.5, None),
    "o1-preview": (15.0, 60.0, None, 7.5, None),
    "o1-mini": (1.1, 4.4, None, 0.55, None),
    "o3": (2.0, 8.0, None, 0.5, None),
    "o3-mini": (1.1, 4.4, None, 0.55, None),
    "o4-mini": (1.1, 4.4, None, 0.275, None),
    "text-embedding-3-small": (0.02, 0.0, None, None, None),
    "text-embedding-3-large": (0.13, 0.0, None, None, None),
    "text-embedding-ada-002": (0.1, 0.0, None, None, None),
    "claude-3-5-sonnet-20241022": (3.0, 15.0, None, 0.3, 3.75),
    "claude-3-7-sonnet-20250219": (3.0, 15.0, None, 0.3, 3.75),
    "claude-sonnet-4-*": (3.0, 15.0, None, 0.3, 3.75),
    "claude-3-5-haiku-20241022": (0.8, 4.0, None, 0.08, 1.0),
    "claude-3-opus-20240229": (15.0, 75.0, None, 1.5, 18.75),
    "claude-opus-4-*": (15.0, 75.0, None, 1.5, 18.75),
    "gemini-1.5-pro": (1.25, 5.0, None, 0.3125, None),
    "gemini-1.5-flash": (0.075, 0.3, None, 0.01875, None),
    "gemini-2.0-flash": (0.1, 0.4, None, 0.025, None),
    "gemini-2.5-pro": (1.25, 10.0, None, 0.31, None),
    "gemini-2.5-flash": (0.3, 2.5, None, 0.075, None),
    "gpt-4-gizmo-*": (10.0, 30.0, None, None, None),
}

DEFAULT_PRICES: dict[str, PriceRecord] = {
    model: PriceRecord(model=model, input_per_1m=i, output_per_1m=o, per_call=c, cache_read_per_1m=r,
                       cache_write_per_1m=w)
    for model, (i, o, c, r, w) in _TABLE.items()
}
