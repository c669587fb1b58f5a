"""One pricing function over every unit, the price book's lookups, and reservations priced like settlements."""

from __future__ import annotations

import math

import pytest

from relaygate.billing.estimate import reservation, token_estimate
from relaygate.billing.prices import PriceBook
from relaygate.billing.pricing import MAX_COST, QUOTA_PER_USD, quota_cost
from relaygate.core.records import PriceRecord
from relaygate.core.types import Usage


def test_tokens_cache_and_image_tokens_each_at_their_own_price() -> None:
    price = PriceRecord("m", input_per_1m=2.0, output_per_1m=8.0, cache_read_per_1m=0.5, cache_write_per_1m=3.0,
                        image_input_per_1m=10.0)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=200_000,
                  cache_write_tokens=100_000, image_tokens=300_000)
    usd = 0.4 * 2.0 + 0.2 * 0.5 + 0.1 * 3.0 + 0.3 * 10.0 + 0.1 * 8.0
    assert quota_cost(price, usage) == math.ceil(usd * QUOTA_PER_USD)


def test_characters_seconds_calls_and_images_are_priced_in_their_units() -> None:
    tts = PriceRecord("tts-1", per_1m_characters=15.0)
    assert quota_cost(tts, Usage(characters=1000)) == math.ceil(1000 * 15 / 1e6 * QUOTA_PER_USD)  # 7.5 → 8
    whisper = PriceRecord("whisper-1", per_second=0.0001)
    assert quota_cost(whisper, Usage(seconds=90.5)) == math.ceil(90.5 * 0.0001 * QUOTA_PER_USD)
    gpts = PriceRecord("g", per_call=0.02)
    assert quota_cost(gpts, Usage()) == 10_000 and quota_cost(gpts, Usage(calls=3)) == 30_000
    dalle = PriceRecord("dall-e-3", per_image={"1024x1024/hd": 0.08, "1024x1024": 0.05, "*": 0.04})
    assert quota_cost(dalle, Usage(images=2, image_variant="1024x1024/hd")) == 80_000
    assert quota_cost(dalle, Usage(images=1, image_variant="1024x1024/standard")) == 25_000  # the size's price
    assert quota_cost(dalle, Usage(images=1, image_variant="1792x1024/hd")) == 20_000  # any other: `*`
    assert quota_cost(PriceRecord("x"), Usage(images=4)) == 0


def test_the_group_multiplier_and_rounding_up_to_a_whole_unit() -> None:
    price = PriceRecord("m", input_per_1m=1.0)
    assert quota_cost(price, Usage(prompt_tokens=1), multiplier=0.8) == 1  # 0.4 units round up
    assert quota_cost(price, Usage(prompt_tokens=2_000_000), multiplier=0.8) == 800_000


@pytest.mark.parametrize("bad", [math.inf, math.nan, 1e308])
def test_a_price_that_cannot_be_computed_charges_the_maximum_never_fails(bad: float) -> None:
    assert quota_cost(PriceRecord("m", input_per_1m=bad), Usage(prompt_tokens=10)) == MAX_COST
    assert quota_cost(PriceRecord("m", input_per_1m=1.0), Usage(prompt_tokens=10), multiplier=bad) == MAX_COST


def test_the_price_book_prefers_the_operator_then_built_in_then_patterns_then_the_fallback() -> None:
    unpriced = PriceRecord("*", input_per_1m=9.0)
    book = PriceBook({"gpt-4o": PriceRecord("gpt-4o", input_per_1m=1.0), "my-*": PriceRecord("my-*", per_call=1.0)},
                     unpriced=unpriced)
    assert book.price("gpt-4o") is not None and book.price("gpt-4o").input_per_1m == 1.0  # type: ignore[union-attr]
    assert book.price("gpt-4o-mini") is not None and book.price("gpt-4o-mini").input_per_1m == 0.15  # type: ignore
    assert book.price("my-model") is not None and book.price("my-model").per_call == 1.0  # type: ignore[union-attr]
    assert book.price("unknown") is unpriced
    entries = book.entries()
    assert not entries["gpt-4o"].builtin and entries["gpt-4o-mini"].builtin and entries["tts-1"].builtin


def test_a_mapped_model_without_a_price_costs_what_its_upstream_model_costs() -> None:
    book = PriceBook({})
    assert book.price_for("alias", "gpt-4o") == book.price("gpt-4o")
    assert book.price_for("alias", "alias") is None


def test_a_reservation_is_priced_as_its_settlement_would_be() -> None:
    price = PriceRecord("m", input_per_1m=1.0, output_per_1m=2.0)
    expected = token_estimate(100, 50, choices=2)
    assert expected.prompt_tokens == 100 + 10 + 16 and expected.completion_tokens == 100
    assert reservation(price, expected, multiplier=1.0) == quota_cost(price, expected)
