"""A WordPress site's uploads folder and an export that uses it, built for each test.

The photos are real JPEGs made with Pillow (a phone's metadata included); the folder is laid out
as WordPress lays out wp-content/uploads: year/month folders, the sizes WordPress made of each
image beside it (photo-300x200.jpg), a large image's `-scaled` copy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pressroom.importers.tests.wxr_samples import post_item, small_export
from pressroom.media.tests.images import jpeg_with_gps, photo

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 256


def jpeg(width: int = 640, height: int = 480, seed: int = 1) -> bytes:
    output = io.BytesIO()
    photo(width, height, seed).save(output, "JPEG", quality=80)
    return output.getvalue()


def attachment_item(
    attachment_id: int,
    url: str,
    *,
    parent: int = 0,
    alt: str = "",
    caption: str = "",
    attached_file: str = "",
    title: str = "",
    link: str = "",
) -> str:
    meta = ""
    if alt:
        meta += (
            "<wp:postmeta><wp:meta_key>_wp_attachment_image_alt</wp:meta_key>"
            f"<wp:meta_value><![CDATA[{alt}]]></wp:meta_value></wp:postmeta>"
        )
    if attached_file:
        meta += (
            "<wp:postmeta><wp:meta_key>_wp_attached_file</wp:meta_key>"
            f"<wp:meta_value><![CDATA[{attached_file}]]></wp:meta_value></wp:postmeta>"
        )
    return f"""<item>
  <title>{title or f"attachment {attachment_id}"}</title>
  <link>{link}</link>
  <excerpt:encoded><![CDATA[{caption}]]></excerpt:encoded>
  <content:encoded><![CDATA[]]></content:encoded>
  <wp:post_id>{attachment_id}</wp:post_id>
  <wp:post_parent>{parent}</wp:post_parent>
  <wp:status>inherit</wp:status>
  <wp:post_type>attachment</wp:post_type>
  <wp:attachment_url>{url}</wp:attachment_url>
  {meta}
</item>"""


@dataclass
class OldSite:
    """The uploads folder and the export, and what the test expects of them."""

    uploads: Path
    export: Path
    base: str  # the uploads' base URL in the export


def build_old_site(folder: Path, base: str = "https://old.example.org/news") -> OldSite:
    """An uploads folder with good, duplicate, broken, missing and hostile files, and an
    export whose posts use them every way WordPress does."""
    uploads = folder / "uploads"
    month = uploads / "2019" / "05"
    month.mkdir(parents=True)
    march = jpeg_with_gps(800, 600, seed=3)
    (month / "march.jpg").write_bytes(march)
    # The sizes WordPress made of it: never imported themselves, their addresses lead home.
    (month / "march-300x225.jpg").write_bytes(jpeg(300, 225, seed=3))
    (month / "crowd-scaled.jpg").write_bytes(jpeg(1200, 800, seed=4))
    (month / "square.jpg").write_bytes(jpeg(500, 500, seed=5))
    (month / "same-as-march.jpg").write_bytes(march)  # uploaded twice on WordPress
    (month / "report.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    (month / "interview.mp3").write_bytes(MP3)
    (month / "clip.mp4").write_bytes(MP4)
    (month / "not-a-photo.jpg").write_bytes(b"<html>this was an error page</html>")
    (month / "cut-short.jpg").write_bytes(jpeg(640, 480, seed=6)[:3000])
    (folder / "secret.jpg").write_bytes(jpeg(64, 64, seed=7))  # outside the uploads folder
    up = f"{base}/wp-content/uploads/2019/05"

    attachments = [
        attachment_item(
            11,
            f"{up}/march.jpg",
            parent=1,
            alt="Miners marching into Lima",
            caption="The march reached the <em>city centre</em> at noon.",
            attached_file="2019/05/march.jpg",
            link=f"{base}/2020/03/04/1/march/",
        ),
        attachment_item(
            12,
            f"{up}/crowd-scaled.jpg",
            parent=1,
            alt="The crowd in the square",
            attached_file="2019/05/crowd-scaled.jpg",
        ),
        attachment_item(13, f"{up}/square.jpg", parent=1, alt="", title="square"),
        attachment_item(14, f"{up}/same-as-march.jpg", parent=2, alt="Again"),
        attachment_item(15, f"{up}/report.pdf", parent=2, attached_file="2019/05/report.pdf"),
        attachment_item(16, f"{up}/interview.mp3", parent=2),
        attachment_item(22, f"{up}/clip.mp4", parent=1),
        attachment_item(17, f"{up}/not-a-photo.jpg", parent=2),
        attachment_item(18, f"{up}/cut-short.jpg", parent=2),
        attachment_item(19, f"{up}/gone.jpg", parent=2),  # missing from the copy
        attachment_item(
            20, f"{up}/sneaky.jpg", parent=2, attached_file="../secret.jpg"
        ),  # path traversal
        attachment_item(
            21,
            f"{up}/unattached.jpg",
            link=f"{base}/unattached/",
            attached_file="2019/05/square.jpg",
        ),
    ]
    body_1 = f"""Intro paragraph.

<img src="{up}/march-300x225.jpg" alt="" width="300" height="225" class="alignleft" srcset="{up}/march-300x225.jpg 300w, {up}/march.jpg 800w" />

[caption id="attachment_12" align="alignnone" width="600"]<a href="{up}/crowd-scaled.jpg"><img src="{up}/crowd-600x400.jpg?w=600" alt="Crowd" width="600" height="400" /></a> The crowd, at noon.[/caption]

[gallery ids="11,13"]

[audio mp3="{up}/interview.mp3"][/audio]

[video width="640" height="360" mp4="{up}/clip.mp4"][/video]

[embed]https://www.youtube.com/watch?v=abc123[/embed]

<a href="{up}/report.pdf">The report</a> and <img src="{up}/gone.jpg" alt="lost">

<img src="https://elsewhere.example.net/2019/05/march.jpg" alt="another site's">"""
    thumbnail = (
        "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
        "<wp:meta_value>11</wp:meta_value></wp:postmeta>"
    )
    posts = [
        post_item(1, "March on Lima", body_1, extra=thumbnail),
        post_item(2, "Second post", f'<img src="{up}/cut-short.jpg" alt="cut">'),
    ]
    export = folder / "export.xml"
    export.write_bytes(small_export("".join(posts + attachments)))
    return OldSite(uploads, export, base)


def many_photos_export(folder: Path, count: int) -> tuple[Path, Path]:
    """`count` posts each with its own small photo as featured image, and the uploads folder."""
    uploads = folder / "uploads"
    (uploads / "2020" / "01").mkdir(parents=True)
    base = photo(160, 120, seed=9)
    items = []
    for number in range(1, count + 1):
        image = base.copy()
        image.putpixel((number % 160, number // 160 % 120), (number % 256, 7, 9))
        image.putpixel((0, 0), (number // 256 % 256, 1, 2))
        output = io.BytesIO()
        image.save(output, "JPEG", quality=85)
        (uploads / "2020" / "01" / f"photo-{number}.jpg").write_bytes(output.getvalue())
        url = f"https://old.example.org/news/wp-content/uploads/2020/01/photo-{number}.jpg"
        thumbnail = (
            "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
            f"<wp:meta_value>{100_000 + number}</wp:meta_value></wp:postmeta>"
        )
        items.append(
            post_item(number, f"Story {number}", f'<img src="{url}" alt="">', extra=thumbnail)
        )
        items.append(attachment_item(100_000 + number, url, parent=number, alt=f"Photo {number}"))
    export = folder / "many.xml"
    export.write_bytes(small_export("".join(items)))
    return export, uploads


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size
