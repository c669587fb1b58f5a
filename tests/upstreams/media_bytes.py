"""Deterministic media bytes for the fake upstreams: speech audio in each OpenAI TTS format, PNG and other images."""

from __future__ import annotations

import io
import math
import random
import struct
import wave
import zlib

PCM_RATE = 24_000
"""OpenAI's `pcm`: 24 kHz, 16-bit signed little-endian, mono (its `wav` is the same samples with a RIFF header)."""
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}
IMAGE_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}


def speech(fmt: str, seconds: float) -> bytes:
    """`seconds` of audio in the TTS format `fmt`, with that format's real framing."""
    makers = {"mp3": mp3, "opus": ogg_opus, "aac": aac, "flac": flac, "wav": wav, "pcm": pcm}
    return makers[fmt](seconds)


def pcm(seconds: float) -> bytes:
    """A 440 Hz square wave at low volume: samples that are not all zero, the same for the same length."""
    frames = round(seconds * PCM_RATE)
    period = PCM_RATE // 440
    cycle = struct.pack(f"<{period}h", *([1200] * (period // 2) + [-1200] * (period - period // 2)))
    return (cycle * (frames // period + 1))[: frames * 2]


def wav(seconds: float, rate: int = PCM_RATE) -> bytes:
    """A real RIFF/WAVE file (python's wave module) of `seconds` of mono 16-bit audio."""
    samples = pcm(seconds * rate / PCM_RATE)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return out.getvalue()


def mp3(seconds: float) -> bytes:
    """MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono) with silent side info: decoders read them as silence."""
    header = b"\xff\xfb\x90\xc0"
    frame = header + bytes(417 - len(header))  # 144 * 128000 / 44100 bytes a frame, no padding bit
    return frame * max(1, math.ceil(seconds * 44_100 / 1152))


def aac(seconds: float) -> bytes:
    """ADTS frames of AAC-LC at 24 kHz mono (1,024 samples a frame), each a 7-byte header and a silent payload."""
    length = 7 + 64
    profile, rate_index, channels = 1, 6, 1
    head = bytes([0xFF, 0xF1, profile << 6 | rate_index << 2 | channels >> 2,
                  (channels & 3) << 6 | length >> 11, (length >> 3) & 0xFF, (length & 7) << 5 | 0x1F, 0xFC])
    return (head + bytes(64)) * max(1, math.ceil(seconds * PCM_RATE / 1024))


def flac(seconds: float) -> bytes:
    """`fLaC`, a STREAMINFO block giving the length (24 kHz, mono, 16 bits) and a PADDING block sized like audio."""
    total = round(seconds * PCM_RATE)
    info = struct.pack(">HH", 4096, 4096) + bytes(6)
    info += (PCM_RATE << 44 | 0 << 41 | 15 << 36 | total).to_bytes(8, "big") + bytes(16)
    padding = round(seconds * 6000)
    return (b"fLaC" + bytes([0]) + len(info).to_bytes(3, "big") + info
            + bytes([0x80 | 1]) + padding.to_bytes(3, "big") + bytes(padding))


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


def _ogg_page(packets: list[bytes], *, granule: int, sequence: int, flags: int, table: list[int]) -> bytes:
    segments = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in packets)
    head = (b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, 0x6D6F636B, sequence) + bytes(4)
            + bytes([len(segments)]) + segments)
    page = head + b"".join(packets)
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus(seconds: float) -> bytes:
    """An Ogg Opus stream (RFC 7845): OpusHead, OpusTags, then 20 ms DTX packets, 50 to a page, with true granules."""
    table = _ogg_crc_table()
    pre_skip = 312
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48_000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"mock" + struct.pack("<I", 0)
    pages = [_ogg_page([head], granule=0, sequence=0, flags=2, table=table),
             _ogg_page([tags], granule=0, sequence=1, flags=0, table=table)]
    packets = max(1, math.ceil(seconds * 50))
    done = 0
    while done < packets:
        count = min(50, packets - done)
        done += count
        pages.append(_ogg_page([b"\xf8"] * count, granule=pre_skip + done * 960, sequence=len(pages),
                               flags=4 if done == packets else 0, table=table))
    return b"".join(pages)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, *, seed: int = 0, alpha: bool = False) -> bytes:
    """A real PNG (8-bit RGB or RGBA, zlib-compressed) with a diagonal pattern that differs by `seed`."""
    channels = 4 if alpha else 3
    pattern = bytes(range(256)) * (width * channels // 256 + 2)
    rows = b"".join(b"\x00" + pattern[(y + seed * 7) % 256:][: width * channels] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (IMAGE_MAGIC["png"] + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows, 6))
            + _png_chunk(b"IEND", b""))


def large_png(size: int, *, seed: int = 0) -> bytes:
    """A real PNG of about `size` bytes: 1024 pixels wide, noise pixels stored without compression."""
    row_bytes = 1024 * 3
    height = max(1, size // (row_bytes + 1))
    noise = random.Random(seed).randbytes(height * row_bytes)
    rows = b"".join(b"\x00" + noise[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    header = struct.pack(">IIBBBBB", 1024, height, 8, 2, 0, 0, 0)
    return (IMAGE_MAGIC["png"] + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows, 0))
            + _png_chunk(b"IEND", b""))


def image(fmt: str, width: int, height: int, *, seed: int = 0) -> bytes:
    """An image in a GPT image output format: a real PNG, or JPEG/WebP framing around deterministic bytes."""
    if fmt == "png":
        return png(width, height, seed=seed)
    body = struct.pack(">HH", width, height) + bytes([seed % 256]) * 64
    if fmt == "jpeg":
        return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + body + b"\xff\xd9"
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def png_info(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, colour type) of PNG bytes, None when they are not a PNG."""
    if not data.startswith(IMAGE_MAGIC["png"]) or len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour
