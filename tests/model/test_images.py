"""model.images: every input is a real file made here with Pillow / pillow-heif; nothing is mocked."""

from __future__ import annotations

import io
import pickle
import re
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image, features

from model.images import MAX_PIXELS, ImageDecodeError, decode_image, image_format

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
SIZE = (160, 120)  # deliberately not square, so a swapped width/height would show


def _encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _near(pixel: Any, expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def _reason(data: bytes, **kwargs: Any) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, **kwargs)
    return info.value.reason


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR for a huge greyscale image, followed by data that cannot decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    garbage = zlib.compress(b"\x00" * 64)[:-6]  # a deflate stream cut short: decoding must fail
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", garbage)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """10000x10000 (100 MP) of one colour: about 32 KB on disk, 100-300 MB once decoded."""
    return _encode(Image.new("1", (10_000, 10_000), 1), "PNG")


def _photo(fmt: str) -> bytes:
    image = Image.new("RGB", SIZE, RED)
    image.paste(BLUE, (0, 0, 40, 40))
    if fmt == "HEIF":
        return _encode(image, "HEIF", quality=90)
    return _encode(image, fmt)


# --- formats -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF"])
def test_each_accepted_format_decodes_to_rgb_of_the_right_size(fmt: str) -> None:
    data = _photo(fmt)
    assert image_format(data) == fmt

    image = decode_image(data)

    assert image.mode == "RGB"
    assert image.size == SIZE
    assert _near(image.getpixel((100, 80)), RED, 12)
    assert _near(image.getpixel((10, 10)), BLUE, 12)


def test_result_is_a_detached_fully_loaded_image() -> None:
    image = decode_image(_photo("JPEG"))
    # A plain Image (not a JpegImageFile still holding the input stream), usable after any close.
    assert type(image) is Image.Image
    assert image.getpixel((100, 80)) is not None


def test_mpo_multi_picture_jpeg_is_a_jpeg_and_gives_its_first_picture() -> None:
    first, second = Image.new("RGB", (40, 30), RED), Image.new("RGB", (40, 30), BLUE)
    data = _encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"

    assert image_format(data) == "JPEG"
    assert _near(decode_image(data).getpixel((20, 15)), RED, 8)


# --- orientation ---------------------------------------------------------------------------------------


def _marked_landscape() -> Image.Image:
    """64x32, blue with a red block in the stored top-left corner."""
    image = Image.new("RGB", (64, 32), BLUE)
    image.paste(RED, (0, 0, 8, 8))
    return image


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value  # Orientation
    return exif.tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF"])
def test_exif_orientation_6_rotates_clockwise_once(fmt: str) -> None:
    # Orientation 6: the stored picture must be turned 90 degrees clockwise to be seen upright, so the
    # stored top-left corner ends up top-right. HEIF proves libheif's rotation is not applied twice.
    data = _encode(_marked_landscape(), fmt, exif=_orientation(6), quality=95)

    image = decode_image(data)

    assert image.size == (32, 64)
    assert _near(image.getpixel((28, 3)), RED, 16)
    assert _near(image.getpixel((3, 3)), BLUE, 16)
    assert _near(image.getpixel((3, 60)), BLUE, 16)


# --- modes ---------------------------------------------------------------------------------------------


def test_cmyk_jpeg_with_adobe_inversion_becomes_rgb_of_the_right_colour() -> None:
    data = _encode(Image.new("CMYK", SIZE, (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in CMYK
    stored = Image.open(io.BytesIO(data))
    assert stored.mode == "CMYK"
    assert "adobe" in stored.info  # Pillow writes Adobe-style inverted CMYK

    image = decode_image(data)

    assert image.mode == "RGB"
    assert _near(image.getpixel((50, 50)), RED, 10)


def _transparent_palette_image() -> Image.Image:
    image = Image.new("P", SIZE, 0)
    image.putpalette([0, 0, 0, *RED])  # index 0: black (made transparent), index 1: red
    image.paste(1, (80, 0, 160, 120))
    return image


@pytest.mark.parametrize(
    ("make", "expected_left", "expected_right"),
    [
        pytest.param(lambda: _encode(Image.new("L", SIZE, 128), "PNG"), (128,) * 3, (128,) * 3, id="L"),
        pytest.param(lambda: _encode(Image.new("1", SIZE, 1), "PNG"), WHITE, WHITE, id="1-bit"),
        pytest.param(lambda: _encode(Image.new("LA", SIZE, (40, 0)), "PNG"), WHITE, WHITE, id="LA-clear"),
        pytest.param(lambda: _encode(Image.new("LA", SIZE, (40, 255)), "PNG"), (40,) * 3, (40,) * 3, id="LA"),
        pytest.param(
            lambda: _encode(_transparent_palette_image().convert("RGB").quantize(4), "PNG"),
            (0, 0, 0),
            RED,
            id="P",
        ),
        pytest.param(
            lambda: _encode(_transparent_palette_image(), "PNG", transparency=0),
            WHITE,
            RED,
            id="P-transparent",
        ),
        pytest.param(
            lambda: _encode(_transparent_palette_image(), "GIF", transparency=0),
            WHITE,
            RED,
            id="GIF-transparent",
        ),
        pytest.param(
            lambda: _encode(Image.new("RGBA", SIZE, (0, 0, 0, 0)), "PNG"), WHITE, WHITE, id="RGBA-clear"
        ),
        pytest.param(
            lambda: _encode(Image.new("RGBA", SIZE, (0, 0, 0, 0)), "WEBP", lossless=True),
            WHITE,
            WHITE,
            id="WEBP-clear",
        ),
        pytest.param(
            lambda: _encode(Image.new("RGBA", SIZE, (0, 0, 0, 128)), "PNG"),
            (127,) * 3,
            (127,) * 3,
            id="RGBA-half",
        ),
    ],
)
def test_modes_become_rgb_with_transparency_on_white(
    make: Any, expected_left: tuple[int, int, int], expected_right: tuple[int, int, int]
) -> None:
    image = decode_image(make())

    assert image.mode == "RGB"
    assert image.size == SIZE
    assert _near(image.getpixel((10, 60)), expected_left, 2)
    assert _near(image.getpixel((150, 60)), expected_right, 2)


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    wide = np.full((SIZE[1], SIZE[0]), 32896, dtype=np.uint16)  # 0x8080: mid-grey
    wide[:, :10] = 0
    wide[:, -10:] = 65535
    data = _encode(Image.fromarray(wide), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really a 16-bit PNG

    image = decode_image(data)

    assert image.mode == "RGB"
    assert image.getpixel((80, 60)) == (128, 128, 128)
    assert image.getpixel((0, 0)) == (0, 0, 0)
    assert image.getpixel((159, 0)) == WHITE


@pytest.mark.parametrize(("fmt", "params"), [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})])
def test_animated_images_give_their_first_frame(fmt: str, params: dict[str, Any]) -> None:
    frames = [Image.new("RGB", SIZE, colour) for colour in (RED, BLUE, (0, 255, 0))]
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3

    image = decode_image(data)

    assert image.size == SIZE
    assert _near(image.getpixel((80, 60)), RED, 4)


# --- refusals ------------------------------------------------------------------------------------------


def test_zero_bytes_is_empty() -> None:
    assert _reason(b"") == "empty"
    assert image_format(b"") is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF"])
def test_a_file_cut_in_half_is_truncated(fmt: str) -> None:
    data = _encode(Image.effect_noise(SIZE, 60).convert("RGB"), fmt)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.reason == "truncated"
    assert info.value.__cause__ is not None  # Pillow's own exception is chained for the logs


def test_a_file_cut_inside_its_header_is_truncated() -> None:
    assert _reason(_photo("PNG")[:20]) == "truncated"
    assert _reason(_photo("JPEG")[:40]) == "truncated"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Chicken salad, about 300 g, no dressing.\n", id="text"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", id="pdf"),
        pytest.param(np.random.default_rng(7).bytes(4096), id="random"),
        pytest.param(b"BMW 320d service invoice, 2024", id="text-starting-BM"),
        pytest.param(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", id="mp4-video"),
    ],
)
def test_non_image_bytes_are_not_image(data: bytes) -> None:
    assert _reason(data) == "not_image"
    assert image_format(data) is None


def _svg() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _encode(Image.new("RGB", SIZE, RED), "TIFF"), id="TIFF"),
        pytest.param(lambda: _encode(Image.new("RGB", (32, 32), RED), "ICO"), id="ICO"),
        pytest.param(lambda: _encode(Image.new("RGB", SIZE, RED), "PPM"), id="PPM"),
        pytest.param(_svg, id="SVG"),
        pytest.param(
            lambda: _encode(Image.new("RGB", SIZE, RED), "AVIF"),
            id="AVIF",
            marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF"),
        ),
    ],
)
def test_known_formats_outside_the_list_are_unsupported(make: Any) -> None:
    data = make()
    assert _reason(data) == "unsupported"
    assert image_format(data) is None


# --- decompression bombs -------------------------------------------------------------------------------


def test_a_decompression_bomb_is_too_large(bomb_png: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(bomb_png) < 1_000_000
    assert _reason(bomb_png) == "too_large"
    # Not relying on Pillow's global limit: with it switched off, our own check still refuses.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert _reason(bomb_png) == "too_large"


def test_the_pixel_check_happens_before_the_pixels_are_decoded() -> None:
    # 8000x8000 = 64 MP: over our 40 MP default but under Pillow's own ~89 MP warning, and its pixel data
    # is broken. Refused as too_large (decided from the header alone), never reported as truncated.
    data = _png_header_only(8000, 8000)
    assert MAX_PIXELS < 8000 * 8000
    assert _reason(data) == "too_large"
    # With a higher limit the same bytes do reach the decoder, which then finds the data broken.
    assert _reason(data, max_pixels=100_000_000) == "truncated"


def test_max_pixels_is_respected_both_ways() -> None:
    data = _encode(Image.new("RGB", (100, 100), RED), "PNG")
    assert _reason(data, max_pixels=9_999) == "too_large"
    assert decode_image(data, max_pixels=10_000).size == (100, 100)


def test_phone_sized_photo_passes_the_default_limit() -> None:
    data = _png_header_only(4032, 3024)  # a 12 MP phone photo's dimensions (data broken on purpose)
    assert _reason(data) == "truncated"  # i.e. it got past the size check


# --- JPEG draft ----------------------------------------------------------------------------------------


def _big_jpeg(**params: Any) -> bytes:
    return _encode(Image.new("RGB", (2000, 1500), (10, 200, 30)), "JPEG", **params)


def test_min_size_decodes_a_large_jpeg_at_reduced_scale() -> None:
    image = decode_image(_big_jpeg(), min_size=224)

    assert image.size == (500, 375)  # 1/4 DCT scale: the largest reduction keeping both sides >= 224
    assert min(image.size) >= 224
    assert _near(image.getpixel((250, 180)), (10, 200, 30), 6)


def test_min_size_never_goes_below_the_request_and_is_a_no_op_without_it() -> None:
    assert decode_image(_big_jpeg()).size == (2000, 1500)
    assert decode_image(_big_jpeg(), min_size=1000).size == (2000, 1500)
    assert decode_image(_big_jpeg(), min_size=5000).size == (2000, 1500)
    assert min(decode_image(_big_jpeg(), min_size=700).size) >= 700


def test_min_size_is_applied_before_exif_orientation() -> None:
    image = decode_image(_big_jpeg(exif=_orientation(6)), min_size=224)
    assert image.size == (375, 500)


def test_min_size_leaves_other_formats_alone() -> None:
    data = _encode(Image.new("RGB", (900, 600), RED), "PNG")
    assert decode_image(data, min_size=224).size == (900, 600)


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="min_size") as info:
        decode_image(_photo("PNG"), min_size=0)
    assert not isinstance(info.value, ImageDecodeError)
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(_photo("PNG"), max_pixels=0)


# --- the error itself ----------------------------------------------------------------------------------

_PYTHONISH = re.compile(r"Error|Exception|Warning|Traceback|PIL|Pillow|\b[A-Z]\w+\(")


@pytest.mark.parametrize(
    ("reason", "make"),
    [
        ("empty", lambda: b""),
        ("truncated", lambda: _photo("JPEG")[:300]),
        ("not_image", lambda: b"%PDF-1.4\n"),
        ("too_large", lambda: _png_header_only(8000, 8000)),
        ("unsupported", lambda: _encode(Image.new("RGB", SIZE), "TIFF")),
    ],
)
def test_every_error_carries_a_friendly_sentence(reason: str, make: Any) -> None:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(make())
    error = info.value

    assert error.reason == reason
    assert isinstance(error, ValueError)
    assert str(error) == error.friendly
    assert len(error.friendly) > 20
    assert error.friendly[0].isupper()
    assert error.friendly.endswith(".")
    assert not _PYTHONISH.search(error.friendly)


def test_error_survives_pickling_for_worker_processes() -> None:
    error = ImageDecodeError("too_large", detail="PNG 10000x10000")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.friendly, copy.detail, str(copy)) == (
        error.reason,
        error.friendly,
        error.detail,
        str(error),
    )
