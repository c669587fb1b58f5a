"""Real WebM audio made in the tests: a tone encoded to Opus by PyAV (the ffmpeg it bundles) and muxed by ffmpeg as a
file (with a Duration) or a live stream (without one), or laid out as a browser's MediaRecorder writes it (Segment
and Clusters of unknown size, no Duration); and the EBML pieces hostile files are built from."""

from __future__ import annotations

import io
import math
import struct
from fractions import Fraction
from typing import Any

import av

RATE = 48_000
FRAME = 960
"""libopus's default frame: 20 ms at 48 kHz."""
UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"
"""An 8-byte EBML size with every value bit set: the element's size is unknown (live recorders write it)."""
EBML, SEGMENT, INFO, TRACKS, CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
TIMECODE_SCALE, DURATION, TIMECODE, SIMPLE_BLOCK, VOID = 0x2AD7B1, 0x4489, 0xE7, 0xA3, 0xEC


def _tone(seconds: float) -> av.AudioFrame:
    """`seconds` of a 480 Hz sine (a whole period every 100 samples, so one period repeated)."""
    samples = round(seconds * RATE)
    period = struct.pack("<100h", *(round(6000 * math.sin(2 * math.pi * i / 100)) for i in range(100)))
    pcm = (period * (samples // 100 + 1))[:samples * 2]
    frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
    frame.planes[0].update(pcm)
    frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
    return frame


def muxed(seconds: float, *, live: bool = False, bit_rate: int = 32_000) -> bytes:
    """`seconds` of a tone as Opus in WebM, written by ffmpeg's muxer; `live` as a live stream (no Duration, no
    Cues)."""
    out = io.BytesIO()
    options = {"live": "1"} if live else {}
    with av.open(out, "w", format="webm", options=options) as container:
        stream: Any = container.add_stream("libopus", rate=RATE, layout="mono")
        stream.bit_rate = bit_rate
        for packet in [*stream.encode(_tone(seconds)), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def opus_packets(seconds: float, bit_rate: int = 32_000) -> tuple[list[bytes], bytes]:
    """The tone encoded by libopus: its 20 ms packets and the OpusHead the track's CodecPrivate carries."""
    codec: Any = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format, codec.bit_rate = RATE, "mono", "s16", bit_rate
    codec.time_base = Fraction(1, RATE)
    codec.open()
    packets = [bytes(p) for p in [*codec.encode(_tone(seconds)), *codec.encode(None)]]
    return packets, bytes(codec.extradata)


def size(n: int) -> bytes:
    """`n` as an EBML size, in the fewest bytes that do not read as unknown."""
    length = 1
    while n >= (1 << (7 * length)) - 1:
        length += 1
    return (n | 1 << (7 * length)).to_bytes(length, "big")


def element(element_id: int, payload: bytes, *, size_bytes: bytes | None = None) -> bytes:
    head = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return head + (size(len(payload)) if size_bytes is None else size_bytes) + payload


def uint(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def header(doc_type: bytes = b"webm") -> bytes:
    return element(EBML, uint(0x4286, 1) + uint(0x42F7, 1) + uint(0x42F2, 4) + uint(0x42F3, 8)
                   + element(0x4282, doc_type) + uint(0x4287, 4) + uint(0x4285, 2))


def info(scale: int = 1_000_000, duration: float | None = None) -> bytes:
    body = uint(TIMECODE_SCALE, scale) + element(0x4D80, b"Chrome") + element(0x5741, b"Chrome")
    if duration is not None:
        body += element(DURATION, struct.pack(">d", duration))
    return element(INFO, body)


def opus_track(codec_private: bytes = b"") -> bytes:
    audio = element(0xE1, element(0xB5, struct.pack(">d", float(RATE))) + uint(0x9F, 1))
    entry = (uint(0xD7, 1) + uint(0x73C5, 1) + uint(0x83, 2) + element(0x86, b"A_OPUS")
             + (element(0x63A2, codec_private) if codec_private else b"") + audio)
    return element(TRACKS, element(0xAE, entry))


def simple_block(relative_ms: int, frame: bytes, track: int = 1) -> bytes:
    return element(SIMPLE_BLOCK, size(track)[-1:] + struct.pack(">h", relative_ms) + b"\x80" + frame)


def media_recorder(seconds: float, *, cluster_ms: int = 1000, bit_rate: int = 32_000) -> bytes:
    """The tone as Chrome's MediaRecorder writes audio/webm;codecs=opus: a Segment and Clusters of unknown size,
    20 ms SimpleBlocks, no Duration, no Cues."""
    packets, opus_head = opus_packets(seconds, bit_rate)
    clusters = []
    for start in range(0, len(packets), cluster_ms // 20):
        blocks = b"".join(simple_block(i * 20, p) for i, p in enumerate(packets[start:start + cluster_ms // 20]))
        clusters.append(element(CLUSTER, uint(TIMECODE, start * 20) + blocks, size_bytes=b"\xff"))
    return header() + element(SEGMENT, info() + opus_track(opus_head) + b"".join(clusters), size_bytes=UNKNOWN)
