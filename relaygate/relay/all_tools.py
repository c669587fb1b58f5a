"""Which models are all-tools (they read the files their messages name): the built-in ones, the operator's marks,
and what each one's base model can take (images, how many tokens of context)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relaygate.core.records import AllToolsRecord

BUILTIN: Mapping[str, AllToolsRecord] = {
    "gpt-4-all": AllToolsRecord("gpt-4-all", "gpt-4"),
    "gpt-4o-all": AllToolsRecord("gpt-4o-all", "gpt-4o"),
}
"""The seed's file-analysis models; an operator's mark of the same name replaces one (or turns it off)."""

# What relaygate knows of common base models, by name prefix (the longest matching prefix wins): whether they
# take images, and their context window in tokens. A mark may say otherwise for any model.
_KNOWN_BASES: tuple[tuple[str, bool, int], ...] = (
    ("gpt-4o", True, 128_000),
    ("chatgpt-4o", True, 128_000),
    ("gpt-4.1", True, 1_047_576),
    ("gpt-4.5", True, 128_000),
    ("gpt-4-turbo", True, 128_000),
    ("gpt-4-vision", True, 128_000),
    ("gpt-4-1106", False, 128_000),
    ("gpt-4-0125", False, 128_000),
    ("gpt-4-32k", False, 32_768),
    ("gpt-4", False, 8_192),
    ("gpt-5", True, 400_000),
    ("gpt-3.5-turbo", False, 16_385),
    ("o1-mini", False, 128_000),
    ("o1", True, 200_000),
    ("o3", True, 200_000),
    ("o4", True, 200_000),
    ("claude-2", False, 100_000),
    ("claude", True, 200_000),
    ("gemini-1.0", False, 32_760),
    ("gemini", True, 1_048_576),
)
_KNOWN_BASES_LONGEST_FIRST = sorted(_KNOWN_BASES, key=lambda known: -len(known[0]))
UNKNOWN_CONTEXT_TOKENS = 8_192
"""The context assumed for a base model relaygate does not know and the mark does not size: the smallest common one."""


@dataclass(frozen=True, slots=True)
class AllToolsModel:
    """An all-tools model as the file-analysis step uses it: everything resolved."""

    model: str
    base_model: str
    vision: bool
    context_tokens: int
    builtin: bool


def known_base(base_model: str) -> tuple[bool, int]:
    """(takes images, context tokens) of a base model, as far as relaygate knows it."""
    name = base_model.lower()
    for prefix, vision, context in _KNOWN_BASES_LONGEST_FIRST:
        if name.startswith(prefix):
            return vision, context
    return False, UNKNOWN_CONTEXT_TOKENS


def _resolved(record: AllToolsRecord, builtin: bool) -> AllToolsModel:
    vision, context = known_base(record.base_model)
    return AllToolsModel(
        model=record.model, base_model=record.base_model,
        vision=record.vision if record.vision is not None else vision,
        context_tokens=record.context_tokens if record.context_tokens is not None else context,
        builtin=builtin,
    )


class AllToolsBook:
    """Every all-tools model in effect, looked up from memory: the built-ins, then the operator's marks over them."""

    def __init__(self, marks: Mapping[str, AllToolsRecord]) -> None:
        records = {**{name: (rec, True) for name, rec in BUILTIN.items()},
                   **{name: (rec, False) for name, rec in marks.items()}}
        self._models = {name: _resolved(rec, builtin) for name, (rec, builtin) in records.items() if rec.enabled}

    def get(self, model: str) -> AllToolsModel | None:
        return self._models.get(model)

    def models(self) -> list[AllToolsModel]:
        return [self._models[name] for name in sorted(self._models)]
