"""Every operation the relay serves, one module each: the server's routes are generated from this list."""

from __future__ import annotations

from typing import Any

from relaygate.relay.operation import Operation, OperationContext
from relaygate.relay.operations.chat import ChatOperation
from relaygate.relay.operations.completions import CompletionsOperation
from relaygate.relay.operations.embeddings import EmbeddingsOperation
from relaygate.relay.operations.midjourney import MidjourneyOperation

OPERATIONS: tuple[type[Operation[Any]], ...] = (
    ChatOperation,
    CompletionsOperation,
    EmbeddingsOperation,
    MidjourneyOperation,
)


def build_operations(ctx: OperationContext) -> dict[str, Operation[Any]]:
    return {op.name: op(ctx) for op in OPERATIONS}  # type: ignore[call-arg]
