"""Bytes in, bytes out: recognising uploads, protecting sources, making renditions.

Nothing here touches the database or storage, so the importers, the admin, the worker and the
benchmark all run exactly the same code.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image, ImageFile, ImageOps, IptcImagePlugin, features

from pressroom.media.models import MediaError, MediaItem

# Pillow formats accepted as images, with the MIME type and extension the stored original gets.
# HEIC (phones) is stored as JPEG: browsers cannot show HEIC.
IMAGE_FORMATS = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "MPO": ("JPEG", "image/jpeg", "jpg"),  # JPEG with a second frame (some phone cameras)
    "PNG": ("PNG", "image/png", "png"),
    "GIF": ("GIF", "image/gif", "gif"),
    "WEBP": ("WEBP", "image/webp", "webp"),
    "AVIF": ("AVIF", "image/avif", "avif"),
    "HEIF": ("JPEG", "image/jpeg", "jpg"),
}
# Other files, recognised by their first bytes (never by name or the browser's claim).
FILE_SIGNATURES: list[tuple[re.Pattern[bytes], str, str, str]] = [
    (re.compile(rb"%PDF-"), MediaItem.Kind.DOCUMENT, "application/pdf", "pdf"),
    (re.compile(rb"ID3|\xff[\xfb\xf3\xf2]"), MediaItem.Kind.AUDIO, "audio/mpeg", "mp3"),
    (re.compile(rb"OggS"), MediaItem.Kind.AUDIO, "audio/ogg", "ogg"),
    (re.compile(rb"fLaC"), MediaItem.Kind.AUDIO, "audio/flac", "flac"),
    (re.compile(rb"RIFF....WAVE", re.S), MediaItem.Kind.AUDIO, "audio/wav", "wav"),
    (re.compile(rb"....ftypM4A", re.S), MediaItem.Kind.AUDIO, "audio/mp4", "m4a"),
    (re.compile(rb"\x1a\x45\xdf\xa3"), MediaItem.Kind.VIDEO, "video/webm", "webm"),
    (
        re.compile(rb"....ftyp(?:isom|iso2|mp41|mp42|avc1|dash|qt  |M4V )", re.S),
        MediaItem.Kind.VIDEO,
        "video/mp4",
        "mp4",
    ),
]
SVG_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE svg|<svg)", re.S | re.I
)

# Shapes cut around the focal point: (name, width, height).
CROPS = [
    ("social", 1200, 630),
    # 16:9 for search engines' structured data (with "thumb" 4:3 and "square" 1:1).
    ("landscape", 1200, 675),
    ("square", 800, 800),
    ("square-400", 400, 400),
    ("thumb", 800, 600),
    ("thumb-400", 400, 300),
]
ENCODER_OPTIONS: dict[str, dict[str, object]] = {
    "avif": {"quality": 50, "speed": 8},
    "webp": {"quality": 75, "method": 4},
    "jpeg": {"quality": 80, "progressive": True, "optimize": False},
    "png": {"optimize": False, "compress_level": 6},
}
FORMAT_MIME = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}
EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg", "png": "png"}
# Bumped when rendition settings change, so new files get new (immutable) names.
RENDITION_VERSION = 1


def configure_pillow() -> None:
    """The decompression-bomb limit from settings (Pillow's own default is 89 MP) and HEIC."""
    Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_IMAGE_PIXELS
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        pass


def human_size(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(1, round(size / 1024))} KB"


def too_large_message(name: str, size: int) -> str:
    limit = settings.MEDIA_MAX_UPLOAD_BYTES
    return f"“{sanitize_name(name)}” is {human_size(size)}; the limit is {human_size(limit)}."


def avif_supported() -> bool:
    return bool(settings.MEDIA_AVIF) and bool(features.check("avif"))


def sanitize_name(name: str) -> str:
    """A file name safe to show: no folders, no control characters, at most 200 characters.
    Files are stored under generated names, so this is only ever a label."""
    name = unicodedata.normalize("NFKC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:190] + dot + extension[:9]) if dot and len(extension) < 10 else name[:200]
    return name or "upload"


@dataclass
class Prepared:
    """An upload checked and cleaned, ready to store."""

    kind: str
    content: bytes  # what is stored: for images, re-encoded without location and device data
    content_hash: str  # of the uploaded bytes: the same upload twice is the same item
    mime_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    credit: str = ""
    copyright: str = ""
    caption: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def prepare_upload(data: bytes, name: str = "") -> Prepared:
    """Recognise `data` and make it safe to store; raise MediaError with a reason people read."""
    if len(data) > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise MediaError(too_large_message(name, len(data)))
    if not data:
        raise MediaError("The file is empty.")
    content_hash = hashlib.sha256(data).hexdigest()
    head = data[:512]
    if SVG_START.search(head):
        raise MediaError(
            "SVG files are not accepted: they can carry scripts and load other sites. "
            "Export the drawing as PNG or WebP."
        )
    for pattern, kind, mime, extension in FILE_SIGNATURES:
        if pattern.match(head):
            return Prepared(kind, data, content_hash, mime, extension)
    return _prepare_image(data, content_hash)


def open_image(data: bytes) -> Image.Image:
    """Open and fully decode, turning Pillow's warnings and errors into MediaError."""
    configure_pillow()
    try:
        with warnings.catch_warnings():
            # Between the limit and twice the limit Pillow only warns: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS:
                raise MediaError(
                    f"{image.format} images are not accepted; use JPEG, PNG, WebP, AVIF, GIF or HEIC."
                )
            image.load()
            _load_every_frame(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(
            f"The image is too large to process safely (more than "
            f"{settings.MEDIA_MAX_IMAGE_PIXELS / 1e6:.0f} megapixels)."
        ) from None
    except Image.UnidentifiedImageError:
        raise MediaError(
            "This is not an image or file type the library accepts "
            "(images: JPEG, PNG, WebP, AVIF, GIF, HEIC; files: PDF, MP3, OGG, FLAC, WAV, M4A, MP4, WebM)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as error:
        # RuntimeError: Pillow's AVIF decoder on a damaged file.
        raise MediaError(f"The image is damaged or incomplete ({error}).") from None
    return image


def _load_every_frame(image: Image.Image) -> None:
    """Decode every frame of an animation here, where a damaged frame becomes MediaError,
    and refuse one whose frames together pass the pixel limit (40 frames of a 4000×4000 canvas
    in a 44 KB GIF took 1.7 GB to process)."""
    frames = getattr(image, "n_frames", 1)
    if frames <= 1:
        return
    if frames * image.width * image.height > settings.MEDIA_MAX_IMAGE_PIXELS:
        raise MediaError(
            f"This animation is too large to process safely ({frames} frames of "
            f"{image.width}×{image.height}; at most {settings.MEDIA_MAX_IMAGE_PIXELS / 1e6:.0f} "
            "megapixels in all)."
        )
    for index in range(frames):
        image.seek(index)
        image.load()
    image.seek(0)


def _read_credits(image: Image.Image) -> tuple[str, str, str]:
    """Credit, copyright and caption from EXIF and IPTC, kept as fields before stripping."""
    exif = image.getexif()
    credit = str(exif.get(0x013B) or "").strip()  # Artist
    copyright_text = str(exif.get(0x8298) or "").strip()  # Copyright
    caption = str(exif.get(0x010E) or "").strip()  # ImageDescription
    try:
        iptc = IptcImagePlugin.getiptcinfo(image) or {}  # type: ignore[arg-type]
    except (OSError, SyntaxError, ValueError):
        iptc = {}

    def text(key: tuple[int, int]) -> str:
        value = iptc.get(key)
        if isinstance(value, list):
            value = value[0] if value else b""
        return value.decode("utf-8", "replace").strip() if isinstance(value, bytes) else ""

    credit = text((2, 80)) or text((2, 110)) or credit  # By-line, Credit
    copyright_text = text((2, 116)) or copyright_text
    caption = text((2, 120)) or caption
    return credit[:300], copyright_text[:300], caption[:2000]


def _prepare_image(data: bytes, content_hash: str) -> Prepared:
    image = open_image(data)
    source_format = image.format or ""
    stored_format, mime, extension = IMAGE_FORMATS[source_format]
    credit, copyright_text, caption = _read_credits(image)
    animated = getattr(image, "n_frames", 1) > 1 and stored_format in {"GIF", "WEBP"}
    if animated:
        try:
            content = _strip_animated(image, stored_format)
        except (OSError, ValueError, EOFError, RuntimeError) as error:
            raise MediaError(f"The animation is damaged or incomplete ({error}).") from None
        width, height = image.size
    else:
        exif = image.getexif()
        # Orientation first: the stored pixels are upright, and the tag goes with the rest.
        orientation = exif.get(0x0112)
        upright = image if orientation in (None, 1) else ImageOps.exif_transpose(image)
        content = encode_original(upright, stored_format, source_format, exif)
        width, height = upright.size
    return Prepared(
        MediaItem.Kind.IMAGE,
        content,
        content_hash,
        mime,
        extension,
        width,
        height,
        credit,
        copyright_text,
        caption,
    )


def _clean_info(image: Image.Image) -> None:
    """Pillow carries `info` (exif, xmp, comments) into some savers: keep only what displays."""
    for key in list(image.info):
        if key not in {"icc_profile", "transparency", "dpi"}:
            del image.info[key]


def encode_original(
    image: Image.Image, stored_format: str, source_format: str, exif: Image.Exif
) -> bytes:
    """The original re-written without EXIF/XMP/IPTC (unless MEDIA_KEEP_METADATA)."""
    keep = settings.MEDIA_KEEP_METADATA
    xmp = image.info.get("xmp")
    _clean_info(image)
    options: dict[str, object] = {}
    if keep:
        exif[0x0112] = 1  # already upright
        options["exif"] = exif.tobytes()
        if xmp:
            options["xmp"] = xmp
    if stored_format == "JPEG":
        if image.mode not in {"RGB", "L", "CMYK"}:
            image = image.convert("RGB")
        if source_format == "JPEG" and getattr(image, "format", None) == "JPEG":
            # No rotation was needed: re-use the quantisation tables, so quality stays as is.
            options.update(quality="keep", subsampling="keep")
        else:
            options.update(quality=90)
    elif stored_format == "WEBP":
        options.update(quality=90)
    elif stored_format == "AVIF":
        options.update(quality=80)
    output = io.BytesIO()
    image.save(output, format=stored_format, **options)
    return output.getvalue()


def _strip_animated(image: Image.Image, stored_format: str) -> bytes:
    _clean_info(image)
    output = io.BytesIO()
    image.save(output, format=stored_format, save_all=True)
    return output.getvalue()


@dataclass(frozen=True)
class RenditionSpec:
    preset: str
    format: str
    width: int
    height: int
    box: tuple[float, float, float, float]  # in the original's pixels

    @property
    def mime_type(self) -> str:
        return FORMAT_MIME[self.format]


def fallback_format(mime_type: str) -> str:
    return "png" if mime_type in {"image/png", "image/gif"} else "jpeg"


def crop_box(
    width: int, height: int, target_width: int, target_height: int, focal_x: float, focal_y: float
) -> tuple[float, float, float, float]:
    """The largest box of the target's shape inside the image, centred on the focal point as
    far as the edges allow."""
    ratio = target_width / target_height
    box_width, box_height = (
        (width, width / ratio) if width / height <= ratio else (height * ratio, height)
    )
    left = min(max(focal_x * width - box_width / 2, 0), width - box_width)
    top = min(max(focal_y * height - box_height / 2, 0), height - box_height)
    return (left, top, left + box_width, top + box_height)


def plan_renditions(
    width: int, height: int, mime_type: str, focal_x: float = 0.5, focal_y: float = 0.5
) -> list[RenditionSpec]:
    """Every rendition an image gets: widths (never upscaled) and crops, in every format."""
    formats = [*(["avif"] if avif_supported() else []), "webp", fallback_format(mime_type)]
    specs: list[RenditionSpec] = []
    widths = [w for w in settings.MEDIA_RENDITION_WIDTHS if w < width]
    if width <= max(settings.MEDIA_RENDITION_WIDTHS):
        widths.append(width)  # the full size, when smaller than the largest width
    whole = (0.0, 0.0, float(width), float(height))
    for target in widths:
        target_height = max(1, round(height * target / width))
        specs += [RenditionSpec(f"w{target}", fmt, target, target_height, whole) for fmt in formats]
    for name, crop_width, crop_height in CROPS:
        box = crop_box(width, height, crop_width, crop_height, focal_x, focal_y)
        scale = min(1.0, (box[2] - box[0]) / crop_width)  # never upscaled
        out_width, out_height = (
            max(1, round(crop_width * scale)),
            max(1, round(crop_height * scale)),
        )
        # Link previews (Open Graph) are read by scrapers that may not know AVIF; the 16:9 crop
        # is only ever read by search engines' crawlers, in the format every one of them reads.
        if name == "social":
            crop_formats = [fmt for fmt in formats if fmt != "avif"]
        elif name == "landscape":
            crop_formats = [fallback_format(mime_type)]
        else:
            crop_formats = formats
        specs += [RenditionSpec(name, fmt, out_width, out_height, box) for fmt in crop_formats]
    return specs


def make_renditions(data: bytes, specs: list[RenditionSpec]) -> list[tuple[RenditionSpec, bytes]]:
    """Encode each spec from the stored original, decoding it once.

    JPEG sources are decoded at a reduced scale (draft mode: the decoder skips the detail no
    rendition needs, 2-8x less work and memory), and each resize uses `reducing_gap`.
    """
    if not specs:
        return []
    configure_pillow()
    image: Image.Image = Image.open(io.BytesIO(data))
    full_width, full_height = image.size
    needed_width = max(spec.width * full_width / (spec.box[2] - spec.box[0]) for spec in specs)
    needed_height = max(spec.height * full_height / (spec.box[3] - spec.box[1]) for spec in specs)
    if image.format == "JPEG" and isinstance(image, ImageFile.ImageFile):
        image.draft("RGB" if image.mode == "RGB" else None, (int(needed_width), int(needed_height)))
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    scale_x, scale_y = image.width / full_width, image.height / full_height
    results: list[tuple[RenditionSpec, bytes]] = []
    resized: dict[tuple[str, int, int], Image.Image] = {}
    for spec in specs:
        key = (spec.preset, spec.width, spec.height)
        if key not in resized:
            resized.clear()  # formats of one preset are consecutive: keep one size in memory
            box = (
                spec.box[0] * scale_x,
                spec.box[1] * scale_y,
                spec.box[2] * scale_x,
                spec.box[3] * scale_y,
            )
            resized[key] = image.resize(
                (spec.width, spec.height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0
            )
        picture = resized[key]
        if spec.format == "jpeg" and picture.mode != "RGB":
            picture = picture.convert("RGB")
        output = io.BytesIO()
        picture.save(output, format=spec.format.upper(), **ENCODER_OPTIONS[spec.format])
        results.append((spec, output.getvalue()))
    return results
