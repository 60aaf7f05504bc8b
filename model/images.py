"""The one safe image decoder: every path that turns untrusted bytes into pixels goes through here.

Photos reach the bot from strangers (Telegram photos and documents, `foodbot predict`, the inference
worker, training loaders), so decoding must be strict and predictable:

* Only photo formats people actually send are decoded: JPEG (and MPO, the multi-picture JPEG some
  cameras write), PNG (incl. APNG), WebP, GIF, BMP and HEIC/HEIF. Everything is identified by its magic
  bytes *before* Pillow sees it, and Pillow is only ever asked to open the one format that was sniffed,
  so exotic plugins (EPS, which shells out to Ghostscript; TGA/PCX, which accept almost any bytes) are
  never reached.
* Known image formats outside that list are refused as ``"unsupported"`` with a message that lists what
  is accepted: TIFF (and the TIFF-based camera RAW files such as DNG/CR2/NEF), ICO/CUR, PSD, AVIF,
  JPEG 2000, JPEG XL, ICNS, QOI, DDS, SVG, PostScript/EPS and Netpbm (PPM/PGM/PBM/PAM). AVIF is left out
  only because the product list does not name it; Pillow 13 decodes it natively, so adding it is a
  one-line change to ``_ACCEPTED_PILLOW_FORMATS`` plus the sniffer.
* The pixel count is checked against our own limit right after the header is parsed and before any
  pixel memory is allocated, so a tiny file that claims to be 12000x12000 never costs 432 MB of RAM.
* The result is always a fully loaded, detached, upright (EXIF orientation applied) RGB image, with
  transparency flattened onto white, because the recognizer and the training loaders need exactly that.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
from typing import Final, Literal

import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

_LOGGER = logging.getLogger(__name__)

# Registered once, at import, so that Image.open(formats=["HEIF"]) below can find the plugin. pillow-heif
# lets libheif apply the container's rotation/mirroring and resets the EXIF orientation to 1, so the
# later exif_transpose never rotates a HEIC twice.
pillow_heif.register_heif_opener()

MAX_PIXELS: Final[int] = 40_000_000
"""Default ceiling on width x height, checked before any pixel memory is allocated.

40 MP is comfortably above every photo a phone saves in its default mode (12 MP: 4032x3024 or 4080x3060;
the 24 MP some recent phones use: 5712x4284), and Telegram recompresses "photo" uploads to at most 2560 px
a side, while a 12000x12000 decompression bomb (144 MP, about 432 MB as RGB, a few hundred KB as a PNG)
is refused.
It is also below Pillow's own warning threshold (about 89 MP), so our check is the one that decides.
Caveat: the opt-in full-resolution modes of 48/50/108/200 MP sensors (e.g. 8160x6120 = 49.9 MP) exceed
it when sent uncompressed as a file; callers that must accept those can pass a larger ``max_pixels``.
"""

DecodeFailure = Literal["empty", "truncated", "not_image", "too_large", "unsupported"]

ACCEPTED_FORMATS: Final[tuple[str, ...]] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF")
"""Format names `image_format` can return (Pillow's names; HEIF covers HEIC)."""

_FRIENDLY: Final[dict[DecodeFailure, str]] = {
    "empty": "That file is empty — please send the photo again.",
    "truncated": "That photo looks cut off or damaged — please send it again.",
    "not_image": "That doesn't look like a photo — please send a picture of your meal.",
    "too_large": "That image is too big for me to read — please send it as a regular photo, not as a file.",
    "unsupported": "I can only read photos (JPEG, PNG, WebP, HEIC, GIF, BMP) — please send one of those.",
}

# Pillow plugin ids to open for each sniffed format. "JPEG" may come back as an MPO (multi-picture JPEG);
# that is a JpegImageFile subclass, so draft() and first-frame loading work the same.
_ACCEPTED_PILLOW_FORMATS: Final[dict[str, tuple[str, ...]]] = {fmt: (fmt,) for fmt in ACCEPTED_FORMATS}

# Exceptions Pillow's plugins and decoders raise for malformed or cut-off data. (UnidentifiedImageError is
# an OSError; pillow-heif raises ValueError/EOFError when libheif cannot decode; struct.error and
# IndexError come from header parsers reading past the end of short data.)
_PILLOW_DATA_ERRORS: Final = (OSError, SyntaxError, EOFError, ValueError, struct.error, IndexError)

# EXIF parsing is best-effort: a mangled EXIF block must not cost the user their photo.
_EXIF_ERRORS: Final = (OSError, SyntaxError, ValueError, struct.error, KeyError, IndexError, TypeError)

_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_BMP_INFO_HEADER_SIZES: Final = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_NETPBM_RE: Final = re.compile(rb"\AP[1-7][ \t\r\n]+[#0-9]")
_SVG_RE: Final = re.compile(rb"<svg[\s>]", re.IGNORECASE)

# Formats we recognise but refuse; the value is only used in log lines.
_UNSUPPORTED_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL codestream"),
    (b"icns", "ICNS"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
)


class ImageDecodeError(ValueError):
    """Bytes that cannot be turned into a photo.

    ``reason`` is a short machine code for logs and metrics; ``friendly`` is one sentence the bot can
    send to the person as-is (``str(err)`` is the same text); ``detail`` is the technical cause, for logs
    only, never for users.
    """

    def __init__(self, reason: DecodeFailure, friendly: str | None = None, detail: str = "") -> None:
        self.reason: DecodeFailure = reason
        self.friendly: str = friendly if friendly is not None else _FRIENDLY[reason]
        self.detail: str = detail
        super().__init__(self.friendly)

    def __str__(self) -> str:
        return self.friendly

    def __reduce__(self) -> tuple[type[ImageDecodeError], tuple[DecodeFailure, str, str]]:
        # The inference worker may run in another process; keep all three fields across pickling.
        return (type(self), (self.reason, self.friendly, self.detail))


def _iso_bmff_brands(data: bytes) -> tuple[bytes, frozenset[bytes]] | None:
    """Major brand and compatible brands of an ISO-BMFF ``ftyp`` box (HEIF, AVIF, MP4), or None."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(data[0:4], "big")
    end = min(len(data), box_size) if box_size >= 16 else 12
    compatible = frozenset(data[i : i + 4] for i in range(16, end - 3, 4))
    return data[8:12], compatible


def _sniff_heif(data: bytes) -> str | None:
    """Classify an ISO-BMFF file: "HEIF" for HEIC/HEIF, "AVIF" for AVIF (refused), else None.

    The major-brand list mirrors pillow-heif's own acceptance test, so a file we call HEIF is one the
    plugin will try. Generic ``mif1``/``msf1`` files that only declare AV1 brands are AVIF in disguise:
    libheif here has no AV1 decoder, so they are reported as unsupported rather than as damaged.
    """
    brands = _iso_bmff_brands(data)
    if brands is None:
        return None
    major, compatible = brands
    if major in _HEIF_BRANDS:
        return "HEIF"
    if major in _AVIF_BRANDS:
        return "AVIF"
    if major in _HEIF_GENERIC_BRANDS:
        if compatible & _AVIF_BRANDS and not compatible & _HEIF_BRANDS:
            return "AVIF"
        return "HEIF"
    return None


def image_format(data: bytes) -> str | None:
    """The accepted format of ``data`` from its magic bytes ("JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF").

    Nothing is decoded and Pillow is not involved, so this is cheap and cannot raise; the bot uses it to
    decide whether a document is a photo worth downloading in full. A positive answer does not promise the
    bytes decode (they may be cut off): `decode_image` is the authority.
    """
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    # "BM" alone is too weak (any text starting "BM..."), so also require a known DIB header size.
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_INFO_HEADER_SIZES:
        return "BMP"
    if _sniff_heif(data) == "HEIF":
        return "HEIF"
    return None


def _unsupported_format(data: bytes) -> str | None:
    """Name of a recognised image format we refuse, so the user is told what we accept instead."""
    for magic, name in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            return name
    if _sniff_heif(data) == "AVIF":
        return "AVIF"
    if _NETPBM_RE.match(data):
        return "Netpbm"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if (head.startswith(b"<?xml") or head.startswith(b"<svg")) and _SVG_RE.search(head):
        return "SVG"
    return None


def _fail(reason: DecodeFailure, detail: str) -> ImageDecodeError:
    _LOGGER.debug("refusing image: %s (%s)", reason, detail)
    return ImageDecodeError(reason, detail=detail)


def _check_pixels(size: tuple[int, int], max_pixels: int, fmt: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _fail("truncated", f"{fmt} header claims {width}x{height}")
    if width * height > max_pixels:
        raise _fail("too_large", f"{fmt} {width}x{height} = {width * height} px > {max_pixels}")


def _open_and_load(data: bytes, fmt: str, max_pixels: int, min_size: int | None) -> Image.Image:
    """Parse the header, enforce the pixel limit, optionally draft, then decode the first frame.

    Pillow's DecompressionBombWarning is turned into an error for the duration (and its
    DecompressionBombError caught) so a bomb is always a clean "too_large" even if a caller raised
    ``max_pixels`` above Pillow's threshold. ``catch_warnings`` swaps a process-wide filter list; if two
    threads overlap here the worst outcome is that the "error" filter for this one warning class outlives
    the block or is briefly missing, and our own size check already refuses anything over ``max_pixels``,
    so the race cannot let a bomb through.
    """
    with warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning):
        try:
            src = Image.open(io.BytesIO(data), formats=_ACCEPTED_PILLOW_FORMATS[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _fail("too_large", f"{fmt}: {exc}") from exc
        except UnidentifiedImageError as exc:
            # The magic bytes matched but the header does not parse: cut off inside the header, or mangled.
            raise _fail("truncated", f"{fmt} header unreadable: {exc}") from exc
        except _PILLOW_DATA_ERRORS as exc:
            raise _fail("truncated", f"{fmt} header broken: {type(exc).__name__}: {exc}") from exc

        with src:
            # The limit is applied to the stored size even when draft() will shrink a JPEG: it keeps the
            # rule simple and the same for every caller, and a >40 MP JPEG is not a photo anyone sends.
            _check_pixels(src.size, max_pixels, fmt)
            if min_size is not None and isinstance(src, JpegImageFile):
                # DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 directly, picking the largest reduction
                # that keeps both sides >= min_size. Must precede load() and exif_transpose().
                src.draft("RGB", (min_size, min_size))
            try:
                # Loading an ImageFile decodes its current frame, which right after open is the first one
                # (GIF, animated WebP/APNG, MPO, HEIF primary image); other frames are never touched.
                src.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise _fail("too_large", f"{fmt}: {exc}") from exc
            except _PILLOW_DATA_ERRORS as exc:
                raise _fail("truncated", f"{fmt} data: {type(exc).__name__}: {exc}") from exc
            # A GIF frame may extend the canvas and libheif may report a different size after decoding.
            _check_pixels(src.size, max_pixels, fmt)
            upright = _exif_upright(src)
            # Detach from the file object: a plain, fully loaded Image that survives src.close().
            return upright if upright is not src else src.copy()


def _exif_upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag, returning ``image`` itself when there is nothing to do.

    Checking the tag first avoids exif_transpose's unconditional copy of a possibly large image. A
    corrupt EXIF block is logged and ignored: a sideways photo is better than no photo.
    """
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS as exc:
        _LOGGER.warning("ignoring unreadable EXIF orientation: %s: %s", type(exc).__name__, exc)
    return image


_SIXTEEN_BIT_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode the accepted formats produce → 8-bit RGB, with transparency flattened onto white.

    White, not black, because a transparent PNG/WebP/GIF sticker or cut-out is meant to be seen on a
    light chat background, and a black surround would change what the model sees.
    """
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _wide_grey_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if mode == "RGB":
        return image
    # CMYK (Pillow already undoes Adobe's inverted CMYK when decoding the JPEG), L, 1, P, YCbCr.
    return image.convert("RGB")


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit int/float) greyscale → 8-bit RGB by scaling, not clipping.

    Pillow's own I;16 → L conversion clips, turning a mid-grey 16-bit PNG white. In the accepted formats
    these modes only come from 16-bit greyscale PNGs, so all of them are read as 0..65535 and mapped
    linearly (with rounding) onto 0..255.
    """
    import numpy as np  # only for these rare photos: a bot replica that checks formats does without it

    wide = np.asarray(image)
    if wide.dtype.kind == "f":
        wide = np.nan_to_num(wide, nan=0.0, posinf=65535.0, neginf=0.0)
    clipped = np.clip(wide, 0, 65535).astype(np.uint32)
    grey = ((clipped + 128) // 257).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, min_size: int | None = None) -> Image.Image:
    """Decode untrusted image bytes into an upright, fully loaded RGB image.

    ``max_pixels`` bounds width x height and is checked before pixel memory is allocated (see
    `MAX_PIXELS`). ``min_size``, when given, lets a JPEG be decoded at 1/2, 1/4 or 1/8 scale as long as
    both sides stay >= ``min_size`` — the inference worker passes its resize size so it never decodes
    more pixels than the model looks at. Other formats ignore it.

    Raises `ImageDecodeError` (and nothing else) for any bad input, with ``reason`` one of "empty",
    "truncated", "not_image", "too_large", "unsupported". A non-positive ``max_pixels``/``min_size`` is a
    programming error and raises a plain ValueError.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if min_size is not None and min_size <= 0:
        raise ValueError(f"min_size must be positive, got {min_size}")
    if not data:
        raise _fail("empty", "zero bytes")

    fmt = image_format(data)
    if fmt is None:
        other = _unsupported_format(data)
        if other is not None:
            raise _fail("unsupported", f"recognised {other}, not an accepted format")
        raise _fail("not_image", f"no known image signature in {len(data)} bytes: {data[:16]!r}")

    loaded = _open_and_load(data, fmt, max_pixels, min_size)
    try:
        rgb = _to_rgb(loaded)
    except ValueError as exc:  # a mode Pillow cannot convert (not produced by the accepted formats)
        raise _fail("unsupported", f"{fmt} mode {loaded.mode}: {exc}") from exc
    rgb.load()
    return rgb
