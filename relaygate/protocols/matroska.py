"""WebM and Matroska audio's length, read by a small bounded EBML walker: the Segment's Info (TimecodeScale,
Duration) and its last Cluster's last block, which is all a live recording (MediaRecorder) leaves to go by.

No well-kept pure-Python library reads Matroska, and mutagen has no parser for it. The walk is bounded for any
bytes: it only moves forward, every element costs at least two bytes of header, it visits at most MAX_ELEMENTS of
them, never descends beyond the few containers it needs, and never allocates from a size the file states (values
are read only when they are a few bytes long). Element IDs and layout: https://www.matroska.org/technical/elements.html
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from typing import IO

MAGIC = b"\x1a\x45\xdf\xa3"
"""The EBML header's ID, the first four bytes of every WebM and Matroska file."""
MAX_ELEMENTS = 1_000_000
"""Elements visited before the file is refused (about a second of work): a live recording has a block every 20 ms, so
this is 5½ hours of it, more than the 25 MiB upload cap holds above 10 kbit/s; a crafted file of empty elements
stops here."""
MAX_TRACKS = 128

_EBML, _DOC_TYPE = 0x1A45DFA3, 0x4282
_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_TIMECODE_SCALE, _DURATION = 0x2AD7B1, 0x4489
_TRACK_ENTRY, _TRACK_NUMBER, _TRACK_TYPE, _CODEC_ID, _DEFAULT_DURATION = 0xAE, 0xD7, 0x83, 0x86, 0x23E383
_CODEC_DELAY, _CODEC_PRIVATE = 0x56AA, 0x63A2
_TIMECODE, _SIMPLE_BLOCK, _BLOCK_GROUP, _BLOCK, _BLOCK_DURATION, _DISCARD_PADDING = (
    0xE7, 0xA3, 0xA0, 0xA1, 0x9B, 0x75A2)
_CLUSTER_CHILDREN = frozenset({_TIMECODE, 0x5854, 0xA7, 0xAB, _SIMPLE_BLOCK, _BLOCK_GROUP, 0xAF, 0xEC, 0xBF})
"""What a Cluster holds (Timecode, SilentTracks, Position, PrevSize, the blocks, Void, CRC-32): in a Cluster of
unknown size, as live recorders write, the first element that is none of these begins the next one."""
_AUDIO = 2
_LENGTH = tuple(9 - b.bit_length() for b in range(256))
"""A variable-length integer's length in bytes by its first byte (9: invalid, a zero byte)."""
_DEFAULT_SCALE = 1_000_000
_WINDOW = 16 * 1024


class UnreadableMatroska(ValueError):
    """A file that begins as EBML but is not WebM/Matroska audio this reader can measure; its text says why."""


@dataclass(slots=True)
class _Track:
    kind: int = 0
    codec: bytes = b""
    default_ns: int | None = None
    delay_ns: int | None = None
    """CodecDelay: what a decoder drops from the start (Opus's pre-skip), by which every timestamp is late."""
    pre_skip_ns: int = 0
    """The pre-skip of an Opus track's OpusHead (RFC 7845 §5.1), which decoders honour when no CodecDelay is given
    (Chrome's MediaRecorder writes none)."""


@dataclass(slots=True)
class _Block:
    """The latest block seen, kept raw until the TimecodeScale and the tracks are known (they may come later)."""

    ticks: int
    track: int
    laced: bool
    head: bytes
    duration_ticks: int | None = None
    discard_ns: int = 0


@dataclass(slots=True)
class _Segment:
    scale: int = _DEFAULT_SCALE
    duration: float | None = None
    tracks: dict[int, _Track] = field(default_factory=dict)
    start_ticks: int | None = None
    last: _Block | None = None


def duration_seconds(file: IO[bytes]) -> float:
    """Seconds of audio in the open binary WebM/Matroska `file` (read from its start, never whole): the Info's
    Duration, or the end of the last block when that is later (a live recording has no Duration); 0.0 when the file
    holds no blocks and no Duration. Raises UnreadableMatroska."""
    file.seek(0, os.SEEK_END)
    walk = _Walk(_Source(file, file.tell()))
    return walk.file()


class _Source:
    """The file read through a small window, so walking element headers costs no system call each."""

    __slots__ = ("_file", "size", "start", "window")

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file, self.size = file, size
        self.start, self.window = 0, b""

    def at(self, offset: int, count: int) -> int:
        """Where `offset` is in `window`, which then holds the `count` bytes from there (fewer at the end of the
        file); `count` is always small."""
        index = offset - self.start
        if index < 0 or index + count > len(self.window):
            self._file.seek(offset)
            self.window, self.start, index = self._file.read(max(count, _WINDOW)), offset, 0
        return index

    def read(self, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset`."""
        index = self.at(offset, count)
        return self.window[index:index + count]


class _Walk:
    def __init__(self, source: _Source) -> None:
        self._src = source
        self._visited = 0
        self._seg = _Segment()
        self._last_ticks = -1
        self._last_simple: tuple[int, int, int] | None = None
        """The latest SimpleBlock (its Cluster's Timecode, where it starts and ends), read in full at the end."""

    def _header(self, offset: int, end: int) -> tuple[int, int, int | None]:
        """The element at `offset` (before `end`): its ID, where its data starts and its size (None: unknown).
        Written for speed: it runs for every element of a live recording."""
        self._visited += 1
        if self._visited > MAX_ELEMENTS:
            raise UnreadableMatroska(f"it has more than {MAX_ELEMENTS:,} elements")
        src = self._src
        i = src.at(offset, 12)
        window = src.window
        available = min(len(window) - i, end - offset)
        if available < 2:
            raise UnreadableMatroska("it is truncated: an element header is cut off")
        id_length = _LENGTH[window[i]]
        if id_length > 4:
            raise UnreadableMatroska(f"it has an invalid element ID at byte {offset}")
        if available <= id_length:
            raise UnreadableMatroska("it is truncated: an element header is cut off")
        element = window[i] if id_length == 1 else int.from_bytes(window[i:i + id_length])
        i += id_length
        first = window[i]
        if first & 0x80:  # a one-byte size, as nearly every element in a Cluster has
            size = first & 0x7F
            return element, offset + id_length + 1, None if size == 0x7F else size
        size_length = _LENGTH[first]
        if size_length > 8:
            raise UnreadableMatroska(f"it has an invalid element size at byte {offset}")
        if available < id_length + size_length:
            raise UnreadableMatroska("it is truncated: an element header is cut off")
        mask = (1 << (7 * size_length)) - 1
        size = int.from_bytes(window[i:i + size_length]) & mask
        return element, offset + id_length + size_length, None if size == mask else size

    def _known(self, offset: int, end: int) -> tuple[int, int, int]:
        """As _header, for an element that must have a known size within `end`; returns its data's end."""
        element, data, size = self._header(offset, end)
        if size is None:
            raise _unknown_size(element)
        if data + size > end:
            raise UnreadableMatroska("it is truncated: an element runs past the end of its parent or of the file")
        return element, data, data + size

    def _value(self, data: int, end: int) -> bytes:
        if end - data > 8:
            raise UnreadableMatroska("a number in it is longer than 8 bytes")
        return self._src.read(data, end - data)

    def _uint(self, data: int, end: int) -> int:
        return int.from_bytes(self._value(data, end))

    def file(self) -> float:
        size = self._src.size
        element, data, end = self._known(0, size)
        if element != _EBML:
            raise UnreadableMatroska("it does not begin with an EBML header")
        self._doc_type(data, end)
        offset = end
        while offset < size:
            element, data, length = self._header(offset, size)
            if element == _SEGMENT:
                self._segment(data, size if length is None else data + length)
                return self._seconds()
            if length is None:
                raise _unknown_size(element)
            if data + length > size:
                raise UnreadableMatroska("it is truncated: an element runs past the end of the file")
            offset = data + length
        raise UnreadableMatroska("it has no Segment")

    def _doc_type(self, offset: int, end: int) -> None:
        while offset < end:
            element, data, stop = self._known(offset, end)
            if element == _DOC_TYPE:
                doc_type = self._src.read(data, min(stop - data, 16)).rstrip(b"\x00")
                if doc_type not in (b"webm", b"matroska"):
                    raise UnreadableMatroska(f"its document type is {doc_type[:16]!r}, not WebM or Matroska")
            offset = stop

    def _segment(self, offset: int, end: int) -> None:
        if end > self._src.size:
            raise UnreadableMatroska("it is truncated: the Segment runs past the end of the file")
        last_cluster: tuple[int, int] | None = None
        while offset < end:
            element, data, length = self._header(offset, end)
            if element in (_EBML, _SEGMENT):
                break  # a second, chained Segment: only the first is measured
            if length is None:
                if element != _CLUSTER:
                    raise _unknown_size(element)
                offset = self._cluster(data, end, sized=False)
                continue
            stop = data + length
            if stop > end:
                raise UnreadableMatroska("it is truncated: an element runs past the end of its parent or of the file")
            if element == _INFO:
                self._info(data, stop)
            elif element == _TRACKS:
                self._tracks(data, stop)
            elif element == _CLUSTER:
                if self._seg.start_ticks is None:
                    self._cluster(data, stop, sized=True, first_only=True)
                last_cluster = (data, stop)
            offset = stop
        if last_cluster is not None:
            self._cluster(*last_cluster, sized=True)

    def _info(self, offset: int, end: int) -> None:
        while offset < end:
            element, data, stop = self._known(offset, end)
            if element == _TIMECODE_SCALE:
                self._seg.scale = self._uint(data, stop)
                if self._seg.scale == 0:
                    raise UnreadableMatroska("its TimecodeScale is zero")
            elif element == _DURATION:
                self._seg.duration = self._float(data, stop)
            offset = stop

    def _float(self, data: int, end: int) -> float:
        raw = self._value(data, end)
        if len(raw) not in (0, 4, 8):
            raise UnreadableMatroska("its Duration is not a 4- or 8-byte float")
        value = struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0] if raw else 0.0
        if not math.isfinite(value) or value < 0:
            raise UnreadableMatroska("its Duration is not a finite, non-negative number")
        return value

    def _tracks(self, offset: int, end: int) -> None:
        while offset < end:
            element, data, stop = self._known(offset, end)
            if element == _TRACK_ENTRY:
                number, track = self._track(data, stop)
                self._seg.tracks[number] = track
                if len(self._seg.tracks) > MAX_TRACKS:
                    raise UnreadableMatroska(f"it has more than {MAX_TRACKS} tracks")
            offset = stop

    def _track(self, offset: int, end: int) -> tuple[int, _Track]:
        number, track = 0, _Track()
        while offset < end:
            element, data, stop = self._known(offset, end)
            if element == _TRACK_NUMBER:
                number = self._uint(data, stop)
            elif element == _TRACK_TYPE:
                track.kind = self._uint(data, stop)
            elif element == _CODEC_ID:
                track.codec = self._src.read(data, min(stop - data, 32)).rstrip(b"\x00")
            elif element == _DEFAULT_DURATION:
                track.default_ns = self._uint(data, stop)
            elif element == _CODEC_DELAY:
                track.delay_ns = self._uint(data, stop)
            elif element == _CODEC_PRIVATE:
                head = self._src.read(data, min(stop - data, 12))
                if len(head) == 12 and head.startswith(b"OpusHead"):
                    track.pre_skip_ns = int.from_bytes(head[10:12], "little") * 1_000_000_000 // 48_000
            offset = stop
        return number, track

    def _cluster(self, offset: int, end: int, *, sized: bool, first_only: bool = False) -> int:
        """Walks a Cluster's blocks (or, `first_only`, just reads its Timecode); returns where it ended."""
        timecode: int | None = None
        src, header = self._src, self._header
        while offset < end:
            element, data, length = header(offset, end)
            if element == _SIMPLE_BLOCK and length is not None and timecode is not None and data + length <= end:
                # the common case, kept short: a live recording has one of these every 20 ms
                stop = data + length
                i, window = data - src.start, src.window  # reading the header left the block's first bytes there
                if length >= 4 and window[i] & 0x80:  # a track number of one byte: read the time in place
                    relative = window[i + 1] << 8 | window[i + 2]
                    ticks = timecode + relative - (0x10000 if relative & 0x8000 else 0)
                else:
                    ticks = self._block(timecode, data, stop).ticks
                if ticks >= self._last_ticks:
                    self._last_ticks, self._last_simple, self._seg.last = ticks, (timecode, data, stop), None
                offset = stop
                continue
            if not sized and element not in _CLUSTER_CHILDREN:
                return offset
            if length is None:
                raise _unknown_size(element)
            if data + length > end:
                raise UnreadableMatroska("it is truncated or corrupt: an element in a Cluster runs past its end")
            stop = data + length
            if element == _TIMECODE:
                timecode = self._uint(data, stop)
                if self._seg.start_ticks is None:
                    self._seg.start_ticks = timecode
                if first_only:
                    return end
            elif element in (_SIMPLE_BLOCK, _BLOCK_GROUP):
                if timecode is None:
                    raise UnreadableMatroska("a block comes before its Cluster's Timecode")
                block = self._group(timecode, data, stop)
                if block.ticks >= self._last_ticks:
                    self._last_ticks, self._last_simple, self._seg.last = block.ticks, None, block
            offset = stop
        return offset

    def _group(self, timecode: int, offset: int, end: int) -> _Block:
        block: _Block | None = None
        duration: int | None = None
        discard = 0
        while offset < end:
            element, data, stop = self._known(offset, end)
            if element == _BLOCK:
                block = self._block(timecode, data, stop)
            elif element == _BLOCK_DURATION:
                duration = self._uint(data, stop)
            elif element == _DISCARD_PADDING:
                discard = int.from_bytes(self._value(data, stop), signed=True)
            offset = stop
        if block is None:
            raise UnreadableMatroska("a BlockGroup holds no Block")
        block.duration_ticks, block.discard_ns = duration, discard
        return block

    def _block(self, timecode: int, offset: int, end: int) -> _Block:
        head = self._src.read(offset, min(end - offset, 12))
        track_length = 9 - head[0].bit_length() if head else 9
        if track_length > 8 or len(head) < track_length + 3:
            raise UnreadableMatroska("a block is cut short or corrupt")
        track = int.from_bytes(head[:track_length]) & ((1 << (7 * track_length)) - 1)
        relative = int.from_bytes(head[track_length:track_length + 2], signed=True)
        flags = head[track_length + 2]
        return _Block(timecode + relative, track, bool(flags & 0x06), head[track_length + 3:track_length + 5])

    def _seconds(self) -> float:
        seg = self._seg
        if not any(t.kind == _AUDIO for t in seg.tracks.values()):
            raise UnreadableMatroska("it has no audio track")
        stated_ns = (seg.duration or 0.0) * seg.scale
        last = seg.last if self._last_simple is None else self._block(*self._last_simple)
        if last is not None:
            played_ns = max(0, last.ticks - (seg.start_ticks or 0)) * seg.scale + self._frame_ns(last)
            stated_ns = max(stated_ns, played_ns)
        if not math.isfinite(stated_ns):
            raise UnreadableMatroska("its length is not a finite number")
        return max(0.0, (stated_ns - self._delay_ns(last)) / 1e9)

    def _delay_ns(self, last: _Block | None) -> int:
        """The last block's track's codec delay (or the first audio track's, for a file of no blocks)."""
        tracks = self._seg.tracks
        track = tracks.get(last.track) if last is not None else None
        if track is None:
            track = next(t for t in tracks.values() if t.kind == _AUDIO)
        return track.delay_ns if track.delay_ns is not None else track.pre_skip_ns

    def _frame_ns(self, block: _Block) -> int:
        """How long the last block plays: its BlockDuration (which muxers write already trimmed), else its track's
        DefaultDuration or, for Opus, the length its TOC byte gives, less the block's DiscardPadding. Anything else
        (a laced block of another codec) counts as no time: the length is then short by at most one block."""
        if block.duration_ticks is not None:
            return block.duration_ticks * self._seg.scale
        track = self._seg.tracks.get(block.track)
        frame_ns = 0
        if track is not None and track.default_ns is not None:
            frame_ns = track.default_ns
        elif track is not None and track.codec == b"A_OPUS" and not block.laced and block.head:
            frame_ns = _opus_ns(block.head)
        return max(0, frame_ns - abs(block.discard_ns))


def _unknown_size(element: int) -> UnreadableMatroska:
    return UnreadableMatroska(f"an element other than a Segment or Cluster has an unknown size (ID 0x{element:X})")


def _opus_ns(head: bytes) -> int:
    """An Opus packet's length from its first bytes (RFC 6716 §3.1-3.2): frames per packet × frame length."""
    toc = head[0]
    config, code = toc >> 3, toc & 0x03
    if config < 12:  # SILK
        frame_us = (10_000, 20_000, 40_000, 60_000)[config % 4]
    elif config < 16:  # Hybrid
        frame_us = (10_000, 20_000)[config % 2]
    else:  # CELT
        frame_us = (2_500, 5_000, 10_000, 20_000)[config % 4]
    frames = 1 if code == 0 else 2 if code in (1, 2) else (head[1] & 0x3F if len(head) > 1 else 0)
    return frames * frame_us * 1000
