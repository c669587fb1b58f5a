"""Prices used for common models until the operator sets their own (USD per 1M tokens, per call, per unit).

Token columns: input, output, cache read, cache write (None = the input price).
"""

from __future__ import annotations

from relaygate.core.records import PriceRecord

_TOKENS: dict[str, tuple[float, float, float | None, float | None]] = {
    "gpt-4o": (2.5, 10.0, 1.25, None),
    "gpt-4o-mini": (0.15, 0.6, 0.075, None),
    "gpt-4.1": (2.0, 8.0, 0.5, None),
    "gpt-4.1-mini": (0.4, 1.6, 0.1, None),
    "gpt-4.1-nano": (0.1, 0.4, 0.025, None),
    "gpt-4-turbo": (10.0, 30.0, None, None),
    "gpt-4": (30.0, 60.0, None, None),
    "gpt-3.5-turbo": (0.5, 1.5, None, None),
    "gpt-3.5-turbo-instruct": (1.5, 2.0, None, None),
    "o1": (15.0, 60.0, 7.5, None),
    "o1-preview": (15.0, 60.0, 7.5, None),
    "o1-mini": (1.1, 4.4, 0.55, None),
    "o3": (2.0, 8.0, 0.5, None),
    "o3-mini": (1.1, 4.4, 0.55, None),
    "o4-mini": (1.1, 4.4, 0.275, None),
    "text-embedding-3-small": (0.02, 0.0, None, None),
    "text-embedding-3-large": (0.13, 0.0, None, None),
    "text-embedding-ada-002": (0.1, 0.0, None, None),
    "claude-3-5-sonnet-20241022": (3.0, 15.0, 0.3, 3.75),
    "claude-3-7-sonnet-20250219": (3.0, 15.0, 0.3, 3.75),
    "claude-sonnet-4-*": (3.0, 15.0, 0.3, 3.75),
    "claude-3-5-haiku-20241022": (0.8, 4.0, 0.08, 1.0),
    "claude-3-opus-20240229": (15.0, 75.0, 1.5, 18.75),
    "claude-opus-4-*": (15.0, 75.0, 1.5, 18.75),
    "gemini-1.5-pro": (1.25, 5.0, 0.3125, None),
    "gemini-1.5-flash": (0.075, 0.3, 0.01875, None),
    "gemini-2.0-flash": (0.1, 0.4, 0.025, None),
    "gemini-2.5-pro": (1.25, 10.0, 0.31, None),
    "gemini-2.5-flash": (0.3, 2.5, 0.075, None),
    "gpt-4-gizmo-*": (10.0, 30.0, None, None),
}

_UNITS: tuple[PriceRecord, ...] = (
    PriceRecord("tts-1", per_1m_characters=15.0),
    PriceRecord("tts-1-hd", per_1m_characters=30.0),
    # gpt-4o-mini-tts reports tokens: text in at 0.60, audio out at 12 per 1M (characters when it reports none)
    PriceRecord("gpt-4o-mini-tts", input_per_1m=0.6, output_per_1m=12.0, per_1m_characters=15.0),
    PriceRecord("whisper-1", per_second=0.006 / 60),
    # the gpt-4o transcribe models report input tokens that are nearly all audio: priced at the audio rate (6.00 and
    # 3.00 per 1M; their few prompt tokens cost 2.50 and 1.25 at OpenAI); per second when they report nothing
    PriceRecord("gpt-4o-transcribe", input_per_1m=6.0, output_per_1m=10.0, per_second=0.006 / 60),
    PriceRecord("gpt-4o-mini-transcribe", input_per_1m=3.0, output_per_1m=5.0, per_second=0.003 / 60),
    PriceRecord("dall-e-3", per_image={"1024x1024/standard": 0.04, "1024x1792/standard": 0.08,
                                       "1792x1024/standard": 0.08, "1024x1024/hd": 0.08, "1024x1792/hd": 0.12,
                                       "1792x1024/hd": 0.12, "*": 0.04}),
    PriceRecord("dall-e-2", per_image={"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02, "*": 0.02}),
    PriceRecord("gpt-image-1", input_per_1m=5.0, output_per_1m=40.0, image_input_per_1m=10.0,
                cache_read_per_1m=1.25),
    PriceRecord("gpt-image-1-mini", input_per_1m=2.0, output_per_1m=8.0, image_input_per_1m=2.5,
                cache_read_per_1m=0.2),
)

_MJ_ACTIONS = {
    "imagine": 0.1, "reroll": 0.1, "variation": 0.1, "high-variation": 0.1, "low-variation": 0.1, "zoom": 0.1,
    "custom-zoom": 0.1, "pan": 0.1, "inpaint": 0.1, "blend": 0.1, "upscale": 0.05, "describe": 0.05,
    "shorten": 0.05, "swap-face": 0.05, "action": 0.05, "modal": 0.0,
}
"""USD per MidJourney submission in fast mode, per action (`mj-<action>-<mode>`). A modal confirms what the button
that opened it (inpaint, custom zoom, a remix) was charged for, so by default it costs nothing of its own."""
_MJ_MODES = {"relax": 0.5, "fast": 1.0, "turbo": 2.0}
"""Each mode's price as a share of fast's: relax runs slower for less, turbo faster for twice."""

DEFAULT_PRICES: dict[str, PriceRecord] = {
    **{model: PriceRecord(model=model, input_per_1m=i, output_per_1m=o, cache_read_per_1m=r, cache_write_per_1m=w)
       for model, (i, o, r, w) in _TOKENS.items()},
    **{p.model: p for p in _UNITS},
    **{f"mj-{action}-{mode}": PriceRecord(f"mj-{action}-{mode}", per_call=round(usd * share, 6))
       for action, usd in _MJ_ACTIONS.items() for mode, share in _MJ_MODES.items()},
}
