"""Audio uploads as the relay bills them: the length in seconds, read from the file itself with mutagen (WebM with
the relay's own bounded reader, relaygate.protocols.matroska)."""

from __future__ import annotations

import functools
import io
import math
import os
import struct
from dataclasses import dataclass
from typing import IO, Any

from relaygate.core.errors import InvalidAudio
from relaygate.protocols import matroska


@dataclass(frozen=True)
class _Parsers:
    kinds: list[Any]
    """The containers OpenAI takes that mutagen reads (WebM it does not: see matroska.py). Only these are tried:
    some of mutagen's other parsers (Musepack) can spin for seconds on crafted bytes."""
    by_extension: dict[str, Any]
    """Formats mutagen only recognises by the file's name (ADTS AAC, MP3 without an ID3 tag): tried when the name
    says."""
    failures: tuple[type[Exception], ...]
    """MutagenError is what mutagen documents; corrupt headers in a few of its parsers surface as the others
    (OSError from a seek to a negative offset)."""
    file: Any


@functools.cache
def _parsers() -> _Parsers:
    # imported at the first transcription, not at start: a relay that bills no audio does not carry it (≈ 2 MiB)
    import mutagen
    from mutagen.aac import AAC
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggspeex import OggSpeex
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    return _Parsers(kinds=[WAVE, FLAC, MP3, MP4, OggOpus, OggVorbis, OggFLAC, OggSpeex],
                    by_extension={"aac": AAC, "mp3": MP3, "mpga": MP3, "mpeg": MP3},
                    failures=(mutagen.MutagenError, OSError, ValueError, EOFError, IndexError, KeyError,
                              struct.error, ZeroDivisionError, OverflowError),
                    file=mutagen.File)


FORMATS = "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav or webm"


def duration_seconds(source: str | os.PathLike[str] | bytes | IO[bytes], *, filename: str | None = None) -> float:
    """Seconds of audio in the file at the path `source`, in `source` when it is the file's bytes, or in the open
    binary file `source` (read from its start).

    `filename` is the client's name for the file (its extension lets ADTS AAC and bare MP3 be recognised when the
    path has none, as a spooled upload's has not). Raises InvalidAudio (400, param `file`) for a file that is not
    audio, is corrupt, or holds no audio; OSError only when the path itself cannot be opened."""
    if isinstance(source, bytes):
        return _duration(io.BytesIO(source), filename or "")
    if not isinstance(source, str | os.PathLike):
        source.seek(0)
        return _duration(source, filename or "")
    with open(source, "rb") as file:
        return _duration(file, filename if filename is not None else os.fspath(source))


def _duration(file: IO[bytes], name: str) -> float:
    start = file.tell()
    webm = file.read(4) == matroska.MAGIC
    file.seek(start)
    length = _webm_duration(file) if webm else _mutagen_duration(file, name)
    if not math.isfinite(length) or length <= 0:
        raise InvalidAudio("The uploaded audio file contains no audio (its length is zero).", param="file")
    return length


def _webm_duration(file: IO[bytes]) -> float:
    try:
        return matroska.duration_seconds(file)
    except matroska.UnreadableMatroska as exc:
        raise InvalidAudio(f"The uploaded WebM file could not be read as audio ({exc}). Send {FORMATS} audio.",
                           param="file") from None


def _mutagen_duration(file: IO[bytes], name: str) -> float:
    extension = os.path.splitext(name)[1].lstrip(".").lower()
    parsers = _parsers()
    try:
        audio = parsers.file(file, options=parsers.kinds)
        if audio is None and extension in parsers.by_extension:
            file.seek(0)
            audio = parsers.by_extension[extension](file)
    except parsers.failures as exc:
        raise InvalidAudio(f"The uploaded file could not be read as audio ({_reason(exc)}). Send {FORMATS} audio.",
                           param="file") from None
    if audio is None:
        raise InvalidAudio(f"The uploaded file is not audio in a supported format. Send {FORMATS} audio.",
                           param="file")
    length = getattr(audio.info, "length", None)
    return float(length) if isinstance(length, int | float) else 0.0


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:120] if text else type(exc).__name__
