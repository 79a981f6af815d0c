"""Renditions of 12-megapixel photos: `python -m bench renditions [--images=N] [--keep]`.

Generates N (default 4) 4000x3000 JPEGs with a phone's metadata, adds them to a fresh library
(SQLite in a temporary directory) through `media.services`, then makes every rendition three
ways, each in its own process, on the same originals and the same list of sizes and formats:

1. the project: `pressroom worker --batch`, the real task worker (Django start-up, database,
   storage writes and all);
2. a minimal Pillow script doing the same Pillow work (decode with draft mode, resize with
   reducing_gap, encode with the same options) and nothing else;
3. the same work with pyvips (libvips), when it is installed (a dev dependency), to decide
   between the two libraries.

Reported: renditions per CPU-second (the machine is shared, so wall time measures the
neighbours too; wall time is shown beside it) and each process's peak RSS. Goals: the project
makes at least 80% of the minimal script's renditions per second, and the worker's peak RSS
stays under 400 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.wxr import run_measured

GOAL_RATIO = 0.80
GOAL_MEMORY_MB = 400.0

# Photos are generated in a process of their own: a child's peak RSS as the kernel reports it
# includes its parent's at fork time, so this process stays small for fair memory figures.
GENERATE = """
import sys
from pressroom.media.tests.images import jpeg_with_gps
for number, path in enumerate(sys.argv[1:]):
    open(path, "wb").write(jpeg_with_gps(4000, 3000, seed=100 + number))
"""

SETUP = """
import json, sys
import django
django.setup()
from pressroom.media import services, processing
specs = {}
for path in sys.argv[1:]:
    with open(path, "rb") as source:
        item, _ = services.add_item_from_bytes(source.read(), path.rsplit("/", 1)[-1])
    plan = processing.plan_renditions(item.width, item.height, item.mime_type, item.focal_x, item.focal_y)
    specs[item.file.path] = [[s.preset, s.format, s.width, s.height, list(s.box)] for s in plan]
print(json.dumps({"specs": specs, "avif": processing.avif_supported(), "options": repr(processing.ENCODER_OPTIONS)}))
"""

# The minimal script: Pillow and nothing else; the same decode, resize and encode calls.
MINIMAL_PILLOW = """
import io, json, sys
from PIL import Image, ImageOps
OPTIONS = {OPTIONS}
jobs = json.load(open(sys.argv[1]))
made = 0
for path, specs in jobs.items():
    data = open(path, "rb").read()
    image = Image.open(io.BytesIO(data))
    full_w, full_h = image.size
    need_w = max(w * full_w / (b[2] - b[0]) for _, _, w, h, b in specs)
    need_h = max(h * full_h / (b[3] - b[1]) for _, _, w, h, b in specs)
    image.draft("RGB", (int(need_w), int(need_h)))
    image = ImageOps.exif_transpose(image).convert("RGB")
    sx, sy = image.width / full_w, image.height / full_h
    last = None
    for preset, fmt, w, h, b in specs:
        if last is None or last[0] != (preset, w, h):
            box = (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy)
            last = ((preset, w, h), image.resize((w, h), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0))
        out = io.BytesIO()
        last[1].save(out, format=fmt.upper(), **OPTIONS[fmt])
        made += 1
print(made)
"""

MINIMAL_VIPS = """
import json, sys
import pyvips
SAVE = {"avif": ".avif[Q=50,effort=1]", "webp": ".webp[Q=75,effort=4]",
        "jpeg": ".jpg[Q=80,interlace]", "png": ".png[compression=6]"}
jobs = json.load(open(sys.argv[1]))
made = 0
for path, specs in jobs.items():
    full = pyvips.Image.new_from_file(path)
    full_w, full_h = full.width, full.height
    need_w = max(w * full_w / (b[2] - b[0]) for _, _, w, h, b in specs)
    # Shrink-on-load, vips's counterpart of Pillow's draft mode.
    image = pyvips.Image.thumbnail(path, int(need_w) + 1, height=10**6).copy_memory()
    sx, sy = image.width / full_w, image.height / full_h
    for preset, fmt, w, h, b in specs:
        left, top = int(b[0] * sx), int(b[1] * sy)
        width = max(1, min(image.width - left, int((b[2] - b[0]) * sx)))
        height = max(1, min(image.height - top, int((b[3] - b[1]) * sy)))
        part = image.crop(left, top, width, height)
        part = part.resize(w / width, vscale=h / height, kernel="lanczos3")
        part.write_to_buffer(SAVE[fmt], strip=True)
        made += 1
print(made)
"""


def main(argv: list[str]) -> int:
    count, keep = 4, "--keep" in argv
    for arg in argv:
        if arg.startswith("--images="):
            count = int(arg.split("=", 1)[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    os.environ.setdefault("PRESSROOM_DEV_SECRET", "1")
    directory = Path(tempfile.mkdtemp(prefix="pressroom-bench-renditions-"))
    python = sys.executable
    pressroom = str(Path(python).with_name("pressroom"))
    env = {
        **os.environ,
        "PRESSROOM_VAR_DIR": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "PRESSROOM_DEV_SECRET": "1",
        "DJANGO_SETTINGS_MODULE": "pressroom.settings",
    }
    try:
        photos = [directory / f"photo-{number}.jpg" for number in range(count)]
        run_measured([python, "-c", GENERATE, *map(str, photos)], env)
        megapixels = 4000 * 3000 / 1e6
        print(
            f"{count} photos of {megapixels:.0f} MP, {sum(p.stat().st_size for p in photos) // 1024} KB"
        )
        run_measured([pressroom, "migrate", "--no-input", "-v", "0"], env)
        seconds, cpu, peak, output = run_measured([python, "-c", SETUP, *map(str, photos)], env)
        setup = json.loads(output.strip().splitlines()[-1])
        jobs = setup["specs"]
        jobs_file = directory / "jobs.json"
        jobs_file.write_text(json.dumps(jobs))
        total = sum(len(specs) for specs in jobs.values())
        print(
            f"upload (check, strip metadata, store): {seconds / count:.2f} s wall per photo, "
            f"peak RSS {peak:.0f} MB; {total} renditions to make "
            f"({total // count} per photo; AVIF: {setup['avif']})"
        )
        load_before = " ".join(f"{load:.1f}" for load in os.getloadavg())
        rows = []
        seconds, cpu, peak, _ = run_measured(
            [pressroom, "worker", "--batch", "--no-scheduler"], env
        )
        rows.append(("project: pressroom worker", total, seconds, cpu, peak))
        minimal = MINIMAL_PILLOW.replace("{OPTIONS}", setup["options"])
        made_output = run_measured([python, "-c", minimal, str(jobs_file)], env)
        rows.append(("minimal Pillow script", int(made_output[3].split()[-1]), *made_output[:3]))
        try:
            import pyvips  # noqa: F401  (only to know whether it is installed)

            made_output = run_measured([python, "-c", MINIMAL_VIPS, str(jobs_file)], env)
            rows.append(
                ("minimal pyvips script", int(made_output[3].split()[-1]), *made_output[:3])
            )
        except ImportError:
            print("pyvips is not installed: the libvips comparison is skipped")
        print(f"load average before: {load_before}")
        print(
            f"{'who':<28} {'made':>5} {'wall s':>7} {'CPU s':>7} {'/CPU-s':>7} {'/wall-s':>8} {'peak RSS MB':>12}"
        )
        for label, made, seconds, cpu, peak in rows:
            print(
                f"{label:<28} {made:>5} {seconds:>7.1f} {cpu:>7.1f} {made / cpu:>7.2f} "
                f"{made / seconds:>8.2f} {peak:>12.0f}"
            )
        project, pillow = rows[0], rows[1]
        ratio = (project[1] / project[3]) / (pillow[1] / pillow[3])
        print(f"project / minimal Pillow (renditions per CPU-second): {ratio:.0%}")
        if len(rows) > 2:
            vips = rows[2]
            print(
                f"pyvips / minimal Pillow: {(vips[1] / vips[3]) / (pillow[1] / pillow[3]):.0%} "
                f"(peak RSS {vips[4]:.0f} MB vs {pillow[4]:.0f} MB)"
            )
        status = 0
        if ratio < GOAL_RATIO:
            print(f"SLOW: {ratio:.0%} of the minimal script (goal >= {GOAL_RATIO:.0%})")
            status = 1
        if project[4] >= GOAL_MEMORY_MB:
            print(f"HEAVY: worker peak RSS {project[4]:.0f} MB (goal < {GOAL_MEMORY_MB:.0f})")
            status = 1
        if status == 0:
            print(
                f"goals met: >= {GOAL_RATIO:.0%} of the minimal script, < {GOAL_MEMORY_MB:.0f} MB"
            )
        return status
    finally:
        if keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
