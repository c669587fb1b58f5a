"""WebM audio's length as the relay reads it (relaygate.protocols.matroska): real files from ffmpeg's muxer, with a
Duration and live, and as a browser's MediaRecorder lays them out, measured as ffmpeg's decoder measures them; and
hostile bytes — huge sizes, truncations, zero-length and nested garbage — refused with a reason, quickly."""

from __future__ import annotations

import io
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaygate.core.errors import InvalidAudio
from relaygate.protocols import matroska
from relaygate.protocols.audio import duration_seconds
from tests import webm
from tests.upstreams.audio_wire import webm_seconds

FRAME_SECONDS = 0.02
DECODED = 0.002
"""How close the length read is to what ffmpeg decodes (the rounding of millisecond timestamps)."""


def _seconds(data: bytes) -> float:
    return matroska.duration_seconds(io.BytesIO(data))


def _file(*children: bytes, segment_size: bytes | None = webm.UNKNOWN) -> bytes:
    return webm.header() + webm.element(webm.SEGMENT, b"".join(children), size_bytes=segment_size)


def _cluster(timecode: int, *blocks: bytes, unknown: bool = False) -> bytes:
    return webm.element(webm.CLUSTER, webm.uint(webm.TIMECODE, timecode) + b"".join(blocks),
                        size_bytes=b"\xff" if unknown else None)


OPUS_20MS = b"\x78\x00"
"""An Opus packet: a TOC byte saying one 20 ms frame (configuration 15, Hybrid fullband) and a byte of payload."""


def test_an_ffmpeg_webm_with_a_duration_lasts_what_ffmpeg_decodes() -> None:
    data = webm.muxed(2.5)
    assert b"\x44\x89\x88" in data, "ffmpeg wrote a Duration"
    assert _seconds(data) == pytest.approx(webm_seconds(data), abs=DECODED)
    assert duration_seconds(data, filename="talk.webm") == pytest.approx(2.5, abs=2 * FRAME_SECONDS)


def test_a_live_webm_without_a_duration_lasts_to_the_end_of_its_last_block() -> None:
    data = webm.muxed(3.3, live=True)
    assert b"\x44\x89" not in data[:200], "a live stream states no Duration"
    assert _seconds(data) == pytest.approx(webm_seconds(data), abs=DECODED)
    assert _seconds(data) == pytest.approx(3.3, abs=2 * FRAME_SECONDS)


def test_a_media_recorder_webm_of_unknown_sizes_is_read_block_by_block() -> None:
    data = webm.media_recorder(4.0, cluster_ms=1000)
    assert data.count(b"\x1f\x43\xb6\x75\xff") >= 4 and webm.UNKNOWN in data
    assert _seconds(data) == pytest.approx(webm_seconds(data), abs=DECODED)
    assert _seconds(data) == pytest.approx(4.0, abs=2 * FRAME_SECONDS)


def test_a_webm_file_is_read_in_small_pieces_never_whole() -> None:
    data = webm.media_recorder(60.0, bit_rate=128_000)
    assert len(data) > 500_000
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            reads.append(-1 if n is None else n)
            return super().read(n)

    assert duration_seconds(Counting(data)) == pytest.approx(60.0, abs=2 * FRAME_SECONDS)
    assert reads and max(reads) <= 64 * 1024 and -1 not in reads


def test_a_duration_written_short_does_not_hide_the_blocks_after_it() -> None:
    blocks = [webm.simple_block(i * 20, OPUS_20MS) for i in range(50)]
    data = _file(webm.info(duration=100.0), webm.opus_track(), _cluster(0, *blocks), _cluster(1000, *blocks))
    assert _seconds(data) == pytest.approx(2.0)


def test_the_timecode_scale_gives_the_units_of_duration_and_block_times() -> None:
    assert _seconds(_file(webm.info(scale=100_000, duration=25_000.0), webm.opus_track())) == pytest.approx(2.5)
    blocks = [webm.simple_block(i * 200, OPUS_20MS) for i in range(10)]  # 10 blocks 20 ms apart in 0.1 ms ticks
    assert _seconds(_file(webm.info(scale=100_000), webm.opus_track(), _cluster(0, *blocks))) == pytest.approx(0.2)


def test_a_recording_that_starts_late_is_measured_from_its_first_cluster() -> None:
    blocks = [webm.simple_block(i * 20, OPUS_20MS) for i in range(50)]
    data = _file(webm.info(), webm.opus_track(), _cluster(3_600_000, *blocks, unknown=True),
                 _cluster(3_601_000, *blocks, unknown=True))
    assert _seconds(data) == pytest.approx(2.0)


def test_the_last_block_adds_its_block_duration_or_its_tracks_default() -> None:
    group = webm.element(0xA0, webm.element(0xA1, b"\x81\x00\x00\x00" + OPUS_20MS) + webm.uint(0x9B, 500))
    assert _seconds(_file(webm.info(), webm.opus_track(), _cluster(1000, group))) == pytest.approx(0.5)
    track = webm.element(webm.TRACKS, webm.element(0xAE, webm.uint(0xD7, 1) + webm.uint(0x83, 2)
                                                   + webm.element(0x86, b"A_VORBIS") + webm.uint(0x23E383, 40_000_000)))
    assert _seconds(_file(webm.info(), track, _cluster(0, webm.simple_block(960, b"\x00")))) == pytest.approx(1.0)


@pytest.mark.parametrize(("toc", "seconds"), [
    (b"\x08", 0.02), (b"\x18", 0.06), (b"\x60", 0.01), (b"\x80", 0.0025), (b"\xf8", 0.02), (b"\xf9", 0.04),
    (b"\xfb\x06", 0.12),
])
def test_an_opus_block_lasts_what_its_toc_byte_says(toc: bytes, seconds: float) -> None:
    data = _file(webm.info(), webm.opus_track(), _cluster(0, webm.simple_block(0, toc)))
    assert _seconds(data) == pytest.approx(seconds)


def _tracks(count: int) -> bytes:
    return webm.element(webm.TRACKS, b"".join(webm.element(0xAE, webm.uint(0xD7, n) + webm.uint(0x83, 2))
                                              for n in range(1, count + 1)))


HOSTILE = {
    "just the magic": (matroska.MAGIC, "header is cut off"),
    "not webm": (webm.header(b"mp4x"), "document type"),
    "no segment": (webm.header() + webm.element(0xEC, b""), "no Segment"),
    "a huge segment": (webm.header() + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xfe" + bytes(64),
                       "Segment runs past the end"),
    "a huge element": (_file(webm.element(webm.INFO, b"", size_bytes=b"\x01\xff\xff\xff\xff\xff\xff\xfe")),
                       "runs past the end"),
    "truncated": (webm.media_recorder(1.0)[:-7], "runs past its end"),
    "empty segment": (_file(segment_size=b"\x80"), "no audio track"),
    "info of unknown size": (_file(webm.element(webm.INFO, b"", size_bytes=b"\xff")), "unknown size"),
    "block before timecode": (_file(webm.opus_track(), webm.element(webm.CLUSTER, webm.simple_block(0, OPUS_20MS))),
                              "before its Cluster's Timecode"),
    "a zero id byte": (_file(b"\x00\x81\x00"), "invalid element ID"),
    "a zero size byte": (_file(b"\xec\x00"), "invalid element size"),
    "a nine-byte number": (_file(webm.element(webm.INFO, webm.element(webm.TIMECODE_SCALE, bytes(9)))),
                           "longer than 8 bytes"),
    "a zero scale": (_file(webm.element(webm.INFO, webm.element(webm.TIMECODE_SCALE, b"\x00"))), "zero"),
    "a NaN duration": (_file(webm.element(webm.INFO, webm.element(webm.DURATION, struct.pack(">d", float("nan"))))),
                       "finite"),
    "a 3-byte duration": (_file(webm.element(webm.INFO, webm.element(webm.DURATION, b"\x00\x00\x01"))), "float"),
    "an endless length": (_file(webm.info(scale=2**63, duration=1e300), webm.opus_track()), "not a finite"),
    "an empty group": (_file(webm.opus_track(), _cluster(0, webm.element(0xA0, b""))), "holds no Block"),
    "an empty block": (_file(webm.opus_track(), _cluster(0, webm.element(webm.SIMPLE_BLOCK, b""))), "cut short"),
    "too many tracks": (_file(_tracks(200)), "more than 128 tracks"),
    "video only": (_file(webm.element(webm.TRACKS, webm.element(0xAE, webm.uint(0xD7, 1) + webm.uint(0x83, 1)))),
                   "no audio track"),
    "garbage in a cluster": (_file(webm.opus_track(), _cluster(0, b"\xa3\x85\x81\x00", unknown=True)),
                             "runs past its end"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bytes_are_refused_with_a_reason(name: str) -> None:
    data, says = HOSTILE[name]
    with pytest.raises(matroska.UnreadableMatroska) as err:
        _seconds(data)
    assert says in str(err.value)


def test_a_refusal_is_a_400_naming_the_file_and_the_formats() -> None:
    with pytest.raises(InvalidAudio) as err:
        duration_seconds(HOSTILE["truncated"][0], filename="voice.webm")
    assert (err.value.status, err.value.code, err.value.param) == (400, "invalid_audio", "file")
    assert err.value.message.startswith("The uploaded WebM file could not be read as audio (it is truncated")
    assert "wav or webm" in err.value.message
    with pytest.raises(InvalidAudio) as err:
        duration_seconds(_file(webm.info(), webm.opus_track()))
    assert "contains no audio" in err.value.message


def test_a_file_of_empty_elements_stops_at_the_budget_quickly() -> None:
    voids = b"\xec\x80" * (matroska.MAX_ELEMENTS + 10)
    data = _file(webm.info(), webm.opus_track(), webm.element(webm.CLUSTER, webm.uint(webm.TIMECODE, 0) + voids,
                                                              size_bytes=b"\xff"))
    started = time.monotonic()
    with pytest.raises(matroska.UnreadableMatroska) as err:
        _seconds(data)
    assert "more than 1,000,000 elements" in str(err.value)
    assert time.monotonic() - started < 10  # about half a second on a free core


_IDS = st.sampled_from([webm.EBML, webm.SEGMENT, webm.INFO, webm.TRACKS, webm.CLUSTER, webm.TIMECODE_SCALE,
                        webm.DURATION, webm.TIMECODE, webm.SIMPLE_BLOCK, 0xA0, 0xA1, 0x9B, 0x75A2, 0xAE, 0xD7,
                        0x83, 0x86, 0x23E383, 0xEC, 0xBF, 0x4282])
_SIZES = st.one_of(st.none(), st.sampled_from([b"\xff", webm.UNKNOWN, b"\x80", b"\x01\xff\xff\xff\xff\xff\xff\xfe",
                                               b"\x00", b"\x40\x00"]))


def _tree(depth: int) -> st.SearchStrategy[bytes]:
    leaf = st.binary(max_size=12)
    if depth == 0:
        return leaf
    child = st.lists(_tree(depth - 1), max_size=4).map(b"".join)
    return st.one_of(leaf, st.builds(lambda i, payload, size: webm.element(i, payload, size_bytes=size),
                                     _IDS, child, _SIZES))


def _measured_or_refused(data: bytes) -> None:
    try:
        seconds = _seconds(data)
    except matroska.UnreadableMatroska:
        return
    assert seconds >= 0 and seconds == seconds


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300))
def test_random_bytes_after_the_magic_are_measured_or_refused(body: bytes) -> None:
    _measured_or_refused(matroska.MAGIC + body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(children=st.lists(_tree(3), max_size=6))
def test_nested_garbage_is_measured_or_refused(children: list[bytes]) -> None:
    _measured_or_refused(_file(*children))
    _measured_or_refused(_file(*children, segment_size=None))


REAL = webm.muxed(0.5)
RECORDED = webm.media_recorder(0.5)


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(REAL)), flip=st.integers(min_value=0, max_value=len(REAL) - 1),
       bits=st.integers(min_value=1, max_value=255), recorded=st.booleans())
def test_damaged_real_files_are_measured_or_refused(cut: int, flip: int, bits: int, recorded: bool) -> None:
    data = bytearray((RECORDED if recorded else REAL)[:cut] or b"\x1a\x45\xdf\xa3")
    data[flip % len(data)] ^= bits
    _measured_or_refused(bytes(data))
