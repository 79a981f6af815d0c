"""Real image files for tests: photographs' structure (smooth areas, edges, grain) and the
metadata a phone writes (GPS position, camera make and model, orientation, XMP)."""

from __future__ import annotations

import io
import random

from PIL import ExifTags, Image, ImageDraw, ImageFilter

GPS_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="12,2.5S" '
    b'exif:GPSLongitude="77,1.7W"/></rdf:RDF></x:xmpmeta>'
)


def photo(width: int = 1600, height: int = 1200, seed: int = 1) -> Image.Image:
    """A synthetic photograph: blurred shapes over a sky-like gradient, plus sensor grain."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.merge(
        "RGB",
        [
            base.getchannel(0),
            base.getchannel(1).point(lambda v: 255 - v),
            base.getchannel(2).point(lambda v: v // 2 + 64),
        ],
    )
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 40, width // 6)
        color = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    image = image.filter(ImageFilter.GaussianBlur(max(1, width // 300)))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    return Image.blend(image, noise, 0.06)


def jpeg_with_gps(
    width: int = 1600, height: int = 1200, *, orientation: int = 1, seed: int = 1
) -> bytes:
    """A JPEG as a phone writes it: GPS position, camera make/model, artist, copyright, XMP."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "SecretPhone 12"
    exif[ExifTags.Base.Artist] = "Rosa Huaman"
    exif[ExifTags.Base.Copyright] = "(c) 2026 Rosa Huaman"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    gps[ExifTags.GPS.GPSLatitude] = (12.0, 2.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (77.0, 1.0, 42.0)
    output = io.BytesIO()
    photo(width, height, seed).save(output, "JPEG", quality=90, exif=exif, xmp=GPS_XMP)
    return output.getvalue()


def png_bytes(width: int = 400, height: int = 300, seed: int = 2) -> bytes:
    output = io.BytesIO()
    photo(width, height, seed).save(output, "PNG")
    return output.getvalue()


def has_location_or_device(data: bytes) -> list[str]:
    """What in `data` would tell where or with what a photo was taken."""
    found = []
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    if exif.get_ifd(ExifTags.IFD.GPSInfo) or ExifTags.IFD.GPSInfo in exif:
        found.append("GPS IFD")
    for marker in (b"PhoneMaker", b"SecretPhone", b"GPSLatitude", b"Exif\x00\x00", b"xmpmeta"):
        if marker in data:
            found.append(marker.decode("latin-1"))
    return found
