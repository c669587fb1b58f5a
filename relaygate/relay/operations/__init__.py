"""Every operation the relay serves, one module each: the server's routes are generated from this list."""

from __future__ import annotations

from typing import Any

from relaygate.relay.operation import Operation, OperationContext, OperationType
from relaygate.relay.operations.chat import ChatOperation
from relaygate.relay.operations.completions import CompletionsOperation
from relaygate.relay.operations.embeddings import EmbeddingsOperation
from relaygate.relay.operations.images import (
    ImageEditsOperation,
    ImageGenerationsOperation,
    ImageVariationsOperation,
)
from relaygate.relay.operations.midjourney import MidjourneyOperation
from relaygate.relay.operations.responses import ResponsesOperation
from relaygate.relay.operations.speech import SpeechOperation
from relaygate.relay.operations.stored_responses import (
    ResponseCancelOperation,
    ResponseDeleteOperation,
    ResponseInputItemsOperation,
    ResponseInputTokensOperation,
    ResponseRetrieveOperation,
)
from relaygate.relay.operations.transcriptions import TranscriptionsOperation, TranslationsOperation

OPERATIONS: tuple[OperationType, ...] = (
    ChatOperation,
    CompletionsOperation,
    EmbeddingsOperation,
    ResponsesOperation,
    ResponseInputTokensOperation,
    ResponseRetrieveOperation,
    ResponseDeleteOperation,
    ResponseCancelOperation,
    ResponseInputItemsOperation,
    SpeechOperation,
    TranscriptionsOperation,
    TranslationsOperation,
    ImageGenerationsOperation,
    ImageEditsOperation,
    ImageVariationsOperation,
    MidjourneyOperation,
)


def build_operations(ctx: OperationContext) -> dict[str, Operation[Any]]:
    return {op.name: op(ctx) for op in OPERATIONS}
