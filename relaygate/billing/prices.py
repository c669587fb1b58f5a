"""The price book: what a model costs — the operator's price, else the built-in one, else a pattern's, else the
unpriced fallback; a mapped model without a price of its own costs what its upstream model costs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from relaygate.billing.default_prices import DEFAULT_PRICES
from relaygate.core.records import PriceRecord

_PATTERN_CHARS = frozenset("*?[")
_CACHE_LIMIT = 10_000


def is_pattern(name: str) -> bool:
    return not _PATTERN_CHARS.isdisjoint(name)


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """A price as the operator sees it: the record and where it comes from."""

    price: PriceRecord
    builtin: bool


class PriceBook:
    """Every price lookup of the relay, answered from memory (and cached per model name)."""

    def __init__(self, operator: Mapping[str, PriceRecord], *, unpriced: PriceRecord | None = None) -> None:
        self._operator = dict(operator)
        self._prices = {**DEFAULT_PRICES, **operator}
        self._patterns = [(m, p) for m, p in self._prices.items() if is_pattern(m)]
        self._unpriced = unpriced
        self._cache: dict[str, PriceRecord | None] = {}

    def price(self, model: str) -> PriceRecord | None:
        """The price of `model`: an exact name first, then the first matching pattern, then the fallback."""
        if model in self._cache:
            return self._cache[model]
        price = self._prices.get(model)
        if price is None:
            price = next((p for pat, p in self._patterns if fnmatchcase(model, pat)), self._unpriced)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[model] = price
        return price

    def has_price(self, model: str) -> bool:
        """Whether `model` has a price of its own (the operator's, a built-in one or a pattern's), not only the
        unpriced fallback."""
        return model in self._prices or any(fnmatchcase(model, pat) for pat, _ in self._patterns)

    def price_for(self, model: str, upstream_model: str) -> PriceRecord | None:
        """What a request for `model` sent upstream as `upstream_model` costs."""
        return self.price(model) or (self.price(upstream_model) if upstream_model != model else None)

    def entries(self) -> dict[str, PriceEntry]:
        """Every named price in effect (built-in ones the operator has not replaced included), by model."""
        return {model: PriceEntry(price, model not in self._operator) for model, price in sorted(self._prices.items())}
