"""The extraction worker's wire: length-prefixed frames, the job header and the JSON answer, both ways typed.

In: a JSON job header frame, then the file's bytes. Out: a ready frame at start, then one answer per job.
JSON, never a pickle: the worker parses hostile files and is the least trusted code in the house.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from relaygate.fetch.document import Document
from relaygate.fetch.limits import ExtractLimits

MAX_ANSWER_BYTES = 512 * 1024 * 1024
_HEADER = struct.Struct(">I")


class Refusal(TypedDict):
    error: str
    """The FetchRefused subclass's name."""
    code: str
    message: str
    cause: str
    """What went wrong inside the worker (an exception type, a signal), for the server's log only."""


class Answer(TypedDict, total=False):
    document: Document
    refusal: Refusal


class Job(TypedDict):
    name: str
    sha256: str
    charset: str | None
    size: int


ANSWER = TypeAdapter(Answer)
JOB = TypeAdapter(Job)
LIMITS = TypeAdapter(ExtractLimits)


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def read_frame(stream: BinaryIO, limit: int = MAX_ANSWER_BYTES) -> bytes | None:
    """One frame's payload, or None at a clean end of the stream."""
    head = stream.read(_HEADER.size)
    if not head:
        return None
    (length,) = _HEADER.unpack(head)
    if length > limit:
        raise ValueError(f"frame of {length} bytes is over the {limit}-byte limit")
    payload = stream.read(length)
    if len(payload) != length:
        raise EOFError("the stream ended inside a frame")
    return payload


def refusal(error: str, code: str, message: str, cause: str = "") -> bytes:
    return ANSWER.dump_json({"refusal": {"error": error, "code": code, "message": message, "cause": cause}})
