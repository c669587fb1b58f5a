"""Audio durations read from the file itself, and the image models' rules, as the relay checks them."""

from __future__ import annotations

import contextlib
import io
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaygate.core.errors import BadRequest, InvalidAudio
from relaygate.core.types import JsonValue
from relaygate.protocols.audio import duration_seconds
from relaygate.protocols.images import IMAGE_MODELS, ImageOperation, ImageOrder, check_image_request
from tests.upstreams import media_bytes

GEN, EDIT, VARY = ImageOperation.GENERATIONS, ImageOperation.EDITS, ImageOperation.VARIATIONS


def _wav(frames: int, rate: int = 16_000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x01\x00" * frames * channels)
    return out.getvalue()


def test_a_wav_lasts_its_frames_over_its_rate_from_bytes_and_from_a_path(tmp_path: Path) -> None:
    data = _wav(frames=16_000 * 7 + 8_000, channels=2)
    path = tmp_path / "upload"
    path.write_bytes(data)
    assert duration_seconds(data) == 7.5
    assert duration_seconds(path) == 7.5
    assert duration_seconds(str(path), filename="talk.wav") == 7.5


@pytest.mark.parametrize(("fmt", "expected", "tolerance"), [
    ("opus", 3.0, 0.0), ("flac", 3.0, 0.0), ("wav", 3.0, 0.0), ("mp3", 3.0, 0.03),
])
def test_each_container_is_recognised_by_its_content(fmt: str, expected: float, tolerance: float) -> None:
    assert duration_seconds(media_bytes.speech(fmt, 3.0)) == pytest.approx(expected, abs=tolerance)


def test_adts_aac_needs_its_name_which_a_spooled_file_gets_from_the_client(tmp_path: Path) -> None:
    data = media_bytes.aac(4.0)
    spooled = tmp_path / "spool-1234"
    spooled.write_bytes(data)
    with pytest.raises(InvalidAudio):
        duration_seconds(spooled)
    assert duration_seconds(spooled, filename="voice.AAC") == pytest.approx(4.0, abs=0.1)
    assert duration_seconds(data, filename="voice.aac") == pytest.approx(4.0, abs=0.1)
    named = tmp_path / "voice.aac"
    named.write_bytes(data)
    assert duration_seconds(named) == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize(("data", "filename", "says"), [
    (b"", None, "not audio"),
    (b"just some text, not audio at all", "notes.txt", "not audio"),
    (media_bytes.png(8, 8), "picture.png", "not audio"),
    (_wav(frames=1600)[:30], "cut.wav", "could not be read"),
    (b"\xff\xfb\x90\xc0" + b"garbage" * 3, "noise.mp3", "could not be read"),
    (_wav(frames=0), "empty.wav", "no audio"),
    # a Musepack header that sets mutagen's Musepack parser spinning: that format is never tried
    (bytes.fromhex("4d50434b5700000000570000000000000000b200000000000000000000000000bd5200000000000000000000"),
     "crafted.mpc", "not audio"),
])
def test_what_is_not_readable_audio_is_a_400_naming_the_file(data: bytes, filename: str | None, says: str) -> None:
    with pytest.raises(InvalidAudio) as err:
        duration_seconds(data, filename=filename)
    assert (err.value.status, err.value.code, err.value.param) == (400, "invalid_audio", "file")
    assert says in err.value.message


def test_a_missing_spool_file_is_the_relays_own_fault_not_the_clients(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        duration_seconds(tmp_path / "gone.wav")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf1", b"",
                               b"\x00\x00\x00\x18ftyp"]),
       body=st.binary(max_size=400),
       filename=st.sampled_from([None, "x.mp3", "x.aac", "x.wav", "x.m4a"]))
def test_no_bytes_make_the_duration_raise_anything_but_invalid_audio(prefix: bytes, body: bytes,
                                                                     filename: str | None) -> None:
    try:
        seconds = duration_seconds(prefix + body, filename=filename)
    except InvalidAudio:
        return
    assert seconds > 0


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=200), flip=st.integers(min_value=0, max_value=199),
       fmt=st.sampled_from(["wav", "flac", "opus", "mp3"]))
def test_damaged_real_files_are_read_or_refused_never_crash(cut: int, flip: int, fmt: str) -> None:
    data = bytearray(media_bytes.speech(fmt, 0.5)[: 200 + cut])
    data[flip % len(data)] ^= 0xFF
    with contextlib.suppress(InvalidAudio):
        assert duration_seconds(bytes(data)) > 0


def test_every_image_model_offers_its_own_defaults() -> None:
    for rules in IMAGE_MODELS.values():
        assert rules.default_size in rules.sizes and rules.default_quality in rules.qualities
        assert rules.max_n >= 1 and rules.prompt_limit > 0


@pytest.mark.parametrize(("operation", "model", "fields", "expected"), [
    (GEN, "dall-e-2", {"prompt": "a cat"}, ImageOrder("dall-e-2", 1, "1024x1024", "standard", "url")),
    (GEN, "dall-e-3", {"prompt": "a cat", "quality": "hd", "size": "1792x1024", "style": "natural",
                       "response_format": "b64_json"}, ImageOrder("dall-e-3", 1, "1792x1024", "hd", "b64_json")),
    (GEN, "gpt-image-1", {"prompt": "a cat", "n": 3, "quality": "high", "background": "transparent",
                          "output_format": "webp", "output_compression": 80, "moderation": "low"},
     ImageOrder("gpt-image-1", 3, "auto", "high", "b64_json")),
    (EDIT, "gpt-image-1", {"prompt": "add a hat", "n": "2", "size": "1536x1024", "input_fidelity": "high"},
     ImageOrder("gpt-image-1", 2, "1536x1024", "auto", "b64_json")),
    (EDIT, "dall-e-2", {"prompt": "add a hat", "size": "512x512", "response_format": "b64_json"},
     ImageOrder("dall-e-2", 1, "512x512", "standard", "b64_json")),
    (VARY, "dall-e-2", {"n": "4", "size": "256x256"}, ImageOrder("dall-e-2", 4, "256x256", "standard", "url")),
])
def test_a_valid_request_orders_n_images_with_the_models_defaults(operation: ImageOperation, model: str,
                                                                  fields: dict[str, JsonValue],
                                                                  expected: ImageOrder) -> None:
    images = 3 if model.startswith("gpt") and operation is EDIT else 1
    assert check_image_request(operation, model, fields, images=images) == expected


@pytest.mark.parametrize(("operation", "model", "fields", "images", "param"), [
    (GEN, "dall-e-3", {"prompt": "cats", "n": 2}, 0, "n"),
    (GEN, "dall-e-2", {"prompt": "cats", "n": 11}, 0, "n"),
    (GEN, "dall-e-2", {"prompt": "cats", "n": 0}, 0, "n"),
    (GEN, "dall-e-2", {"prompt": "cats", "n": "two"}, 0, "n"),
    (GEN, "dall-e-2", {"prompt": "cats", "n": True}, 0, "n"),
    (GEN, "dall-e-3", {"prompt": "cats", "size": "512x512"}, 0, "size"),
    (GEN, "gpt-image-1", {"prompt": "cats", "size": "1792x1024"}, 0, "size"),
    (GEN, "dall-e-2", {"prompt": "cats", "size": "1024x1792"}, 0, "size"),
    (GEN, "dall-e-2", {"prompt": "cats", "quality": "hd"}, 0, "quality"),
    (GEN, "gpt-image-1", {"prompt": "cats", "quality": "hd"}, 0, "quality"),
    (GEN, "dall-e-3", {"prompt": "cats", "quality": "high"}, 0, "quality"),
    (GEN, "dall-e-2", {"prompt": "cats", "style": "vivid"}, 0, "style"),
    (GEN, "dall-e-3", {"prompt": "cats", "style": "moody"}, 0, "style"),
    (GEN, "gpt-image-1", {"prompt": "cats", "response_format": "url"}, 0, "response_format"),
    (GEN, "gpt-image-1", {"prompt": "cats", "response_format": "b64_json"}, 0, "response_format"),
    (GEN, "dall-e-3", {"prompt": "cats", "response_format": "png"}, 0, "response_format"),
    (GEN, "dall-e-3", {"prompt": "cats", "background": "transparent"}, 0, "background"),
    (GEN, "dall-e-2", {"prompt": "cats", "output_format": "png"}, 0, "output_format"),
    (GEN, "dall-e-3", {"prompt": "cats", "moderation": "low"}, 0, "moderation"),
    (GEN, "gpt-image-1", {"prompt": "cats", "output_format": "gif"}, 0, "output_format"),
    (GEN, "gpt-image-1", {"prompt": "cats", "background": "transparent", "output_format": "jpeg"}, 0, "background"),
    (GEN, "gpt-image-1", {"prompt": "cats", "output_compression": 50}, 0, "output_compression"),
    (GEN, "gpt-image-1", {"prompt": "cats", "output_format": "jpeg", "output_compression": 101}, 0,
     "output_compression"),
    (GEN, "gpt-image-1", {"prompt": "cats", "moderation": "none"}, 0, "moderation"),
    (GEN, "dall-e-2", {}, 0, "prompt"),
    (GEN, "dall-e-2", {"prompt": ""}, 0, "prompt"),
    (GEN, "dall-e-2", {"prompt": 42}, 0, "prompt"),
    (GEN, "dall-e-2", {"prompt": "x" * 1001}, 0, "prompt"),
    (GEN, "dall-e-3", {"prompt": "x" * 4001}, 0, "prompt"),
    (EDIT, "dall-e-3", {"prompt": "hat"}, 1, "model"),
    (EDIT, "dall-e-2", {"prompt": "hat"}, 2, "image"),
    (EDIT, "gpt-image-1", {"prompt": "hat"}, 17, "image"),
    (EDIT, "dall-e-2", {"prompt": "hat", "input_fidelity": "high"}, 1, "input_fidelity"),
    (EDIT, "gpt-image-1-mini", {"prompt": "hat", "input_fidelity": "high"}, 1, "input_fidelity"),
    (EDIT, "gpt-image-1", {"prompt": "hat", "size": "256x256"}, 1, "size"),
    (EDIT, "gpt-image-1", {"size": "auto"}, 1, "prompt"),
    (VARY, "gpt-image-1", {}, 1, "model"),
    (VARY, "dall-e-3", {}, 1, "model"),
    (VARY, "dall-e-2", {"size": "1792x1024"}, 1, "size"),
    (VARY, "dall-e-2", {"n": "12"}, 1, "n"),
])
def test_a_rule_the_model_has_refuses_the_request_naming_the_param(operation: ImageOperation, model: str,
                                                                   fields: dict[str, JsonValue], images: int,
                                                                   param: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_image_request(operation, model, fields, images=images)
    assert (err.value.status, err.value.param) == (400, param)
    assert err.value.message and err.value.code != "invalid_request_error"


def test_the_dall_e_3_refusal_says_one_image_a_request() -> None:
    with pytest.raises(BadRequest, match=r"dall-e-3 generates one image a request \(got n=4\)"):
        check_image_request(GEN, "dall-e-3", {"prompt": "cats", "n": 4})


def test_an_unknown_model_passes_unchecked_with_the_order_its_fields_make() -> None:
    fields: dict[str, JsonValue] = {"n": 50, "size": "4096x4096", "quality": "ultra", "style": "x", "strength": 0.4}
    assert check_image_request(GEN, "flux-pro", fields) == ImageOrder("flux-pro", 50, "4096x4096", "ultra", "url")
    assert check_image_request(EDIT, "flux-pro", {"n": "junk"}, images=40).n == 1
