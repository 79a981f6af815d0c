"""The whole site as one open-format archive, and back (docs/independence.md describes it).

An export is a gzip-compressed tar (`.tar.gz`): tar streams (each member is written once, in
order, and read back in one pass), keeps file names and sizes exactly, and every system opens
it without Pressroom (`tar xzf`). Inside:
- `records/<app>.<model>.jsonl`: one JSON object per line per record, Django's own "jsonl"
  serialization (`{"model": ..., "pk": ..., "fields": {...}}`); links to users name them by
  username and to groups by name (natural keys), every other link by primary key;
- `media/<name>`: each uploaded file (media library originals and their renditions) by its
  storage name;
- `manifest.json` (last, since it holds the others' checksums): the format and its version,
  when, whether personal data is in, the schema (the latest migration of each app), the kinds
  of record in restore order with their counts, and the sha256 and size of every other member.

A restore checks everything first (member names, checksums, schema) into a staging directory,
then writes all the records in ONE transaction (a failure leaves the database as it was) with
their primary keys, resets PostgreSQL's sequences, rebuilds the search index, and moves the
media files in last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.core import serializers
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from pressroom.publishing.models import Article
from pressroom.publishing.signals import content_changed
from pressroom.search.backends import index_articles

FORMAT = "pressroom-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RECORDS_DIRECTORY = "records"
MEDIA_DIRECTORY = "media"
# Bounds on what a restore reads from outside.
MAX_MANIFEST_BYTES = 20_000_000
MAX_MEMBERS = 5_000_000
MAX_MEMBER_NAME = 1000
CHUNK = 1 << 20
QUERY_CHUNK = 2000

# Django's own apps whose records are the site's: the editors' accounts. Groups, permissions
# and content types are made by migrations on every install, so links to them go by name.
DJANGO_MODELS = ("auth.user",)
# Pressroom's records that are not the site's: counters, heartbeats, a processor's health, the
# webhook log, and the search index: every model of the search app (rebuilt from the articles
# by the restore).
SKIPPED_MODELS = frozenset(
    {
        "accounts.ratelimitcounter",
        "workers.workerheartbeat",
        "fundraising.processorhealth",
        "fundraising.webhookevent",
        # Federation's delivery log and the remote servers' health: bookkeeping, not content.
        "federation.activity",
        "federation.delivery",
        "federation.instance",
        # Which worker holds which batch of a send: a batch gets its row again when claimed.
        "newsletter.deliverybatch",
    }
)
SKIPPED_APPS = frozenset({"search"})
# What --exclude-personal-data leaves out: people's addresses, consent and gifts, and the
# accounts (emails and password hashes). Records that cannot exist without one of these (a
# donation without its donor, a delivery without its subscriber) go too; a nullable link to one
# (an article's `created_by`) is left empty.
PERSONAL_MODELS = frozenset(
    {
        "auth.user",
        "newsletter.subscriber",
        "fundraising.donor",
        "fundraising.recurringdonation",
        "fundraising.donation",
        "fundraising.donationrefund",
        "fundraising.paymentfailure",
        "fundraising.yearendstatement",
        "fundraising.tribute",  # the honoree's name, whom to tell and their address
        "federation.follower",  # who reads the site from the fediverse
    }
)
# Secrets, only in a full export (an export without personal data may be published): the
# private keys our fediverse actors sign with. A restore without them makes new ones.
SECRET_MODELS = frozenset({"federation.actorkey"})
# Rows a fresh install makes by itself (migrations make the empty header and footer menus; the
# site settings' row appears on first use): they are no content, and a restore replaces them.
SEEDED_MODELS = frozenset({"site.sitesettings", "publishing.menu"})

Progress = Callable[[str], None]


class PortabilityError(Exception):
    """What went wrong, in one line an operator can act on."""


@dataclass
class Summary:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    media_files: int = 0


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def exported_models(*, personal: bool = True) -> list[type[models.Model]]:
    """The kinds of record an export holds, in an order a restore can load them in."""
    chosen: list[type[models.Model]] = [apps.get_model(label) for label in DJANGO_MODELS]
    for config in apps.get_app_configs():
        if not config.name.startswith("pressroom.") or config.label in SKIPPED_APPS:
            continue
        for model in config.get_models():
            if _label(model) not in SKIPPED_MODELS and model._meta.managed:
                chosen.append(model)
    if not personal:
        left_out = set(PERSONAL_MODELS | SECRET_MODELS)
        changed = True
        while changed:  # a record that needs a left-out one goes too
            changed = False
            for model in chosen:
                if _label(model) in left_out:
                    continue
                if any(
                    _label(f.related_model) in left_out
                    for f in model._meta.concrete_fields
                    if f.is_relation and not f.null and f.related_model is not None
                ):
                    left_out.add(_label(model))
                    changed = True
        chosen = [model for model in chosen if _label(model) not in left_out]
    ordered = serializers.sort_dependencies([(None, chosen)], allow_cycles=True)
    return ordered


def schema() -> dict[str, str]:
    """The latest applied migration of each app."""
    latest: dict[str, str] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        if name > latest.get(app, ""):
            latest[app] = name
    return latest


class ExactJSONEncoder(DjangoJSONEncoder):
    """Django's encoder, but times keep their microseconds (Django's cuts them to milliseconds,
    as JavaScript's dates do): a restore must give back the same records."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            text = o.isoformat()
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        if isinstance(o, time):
            return o.isoformat()
        return super().default(o)


class _HashingWriter:
    """A file that hashes what goes through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: str | bytes) -> int:
        raw = data.encode() if isinstance(data, str) else data
        self.digest.update(raw)
        self.size += len(raw)
        return self.stream.write(raw)

    def flush(self) -> None:
        self.stream.flush()


def _rows(model: type[models.Model], personal: bool) -> Iterator[models.Model]:
    rows = model._default_manager.order_by("pk")
    if _label(model) == "auth.user":
        rows = rows.prefetch_related("groups", "user_permissions")
    iterator = rows.iterator(chunk_size=QUERY_CHUNK)
    if personal:
        yield from iterator
        return
    cleared = [
        f
        for f in model._meta.concrete_fields
        if f.is_relation
        and f.null
        and f.related_model is not None
        and _label(f.related_model) in PERSONAL_MODELS
    ]
    for row in iterator:
        for link in cleared:
            setattr(row, link.attname, None)
        yield row


def _media_names(model: type[models.Model]) -> Iterator[str]:
    files = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    if not files:
        return
    for values in (
        model._default_manager.order_by("pk")
        .values_list(*[f.attname for f in files])
        .iterator(chunk_size=QUERY_CHUNK)
    ):
        for value in values:
            if value:
                yield str(value)


def _open_private(path: Path) -> IO[bytes]:
    """A new file readable by its owner only, before a byte goes in."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)  # whatever the umask
    return os.fdopen(descriptor, "wb")


def export_site(path: Path, *, personal: bool = True, progress: Progress = print) -> Summary:
    """Write the whole site into one .tar.gz at `path` (see the module's docstring)."""
    path = Path(path).absolute()
    if path.exists():
        raise PortabilityError(f"{path} already exists; name a new file")
    if not path.parent.is_dir():
        raise PortabilityError(f"{path.parent} is not a directory")
    summary = Summary(path)
    partial = path.with_name(f".{path.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    members: dict[str, dict[str, Any]] = {}
    kinds: list[dict[str, Any]] = []
    try:
        with _open_private(partial) as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            with tempfile.TemporaryDirectory(prefix="pressroom-export-") as scratch:
                media: list[str] = []
                for model in exported_models(personal=personal):
                    label = _label(model)
                    member = f"{RECORDS_DIRECTORY}/{label}.jsonl"
                    spool = Path(scratch) / f"{label}.jsonl"
                    with spool.open("wb") as stream:
                        writer = _HashingWriter(stream)
                        counted = _Counted(_rows(model, personal))
                        serializers.serialize(
                            "jsonl",
                            counted,
                            stream=writer,
                            use_natural_foreign_keys=True,
                            use_natural_primary_keys=False,
                            cls=ExactJSONEncoder,
                        )
                    _add_file(archive, member, spool, writer.size)
                    spool.unlink()
                    members[member] = {"sha256": writer.digest.hexdigest(), "size": writer.size}
                    kinds.append({"model": label, "member": member, "count": counted.count})
                    summary.counts[label] = counted.count
                    progress(f"{label}: {counted.count}")
                    media.extend(_media_names(model))
                for name in dict.fromkeys(media):
                    member = f"{MEDIA_DIRECTORY}/{name}"
                    if not _safe_name(member) or not default_storage.exists(name):
                        progress(f"media file missing, left out: {name}")
                        continue
                    members[member] = _add_media(archive, member, name)
                    summary.media_files += 1
                progress(f"media files: {summary.media_files}")
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": connection.vendor,
                "personal_data": personal,
                "schema": schema(),
                "kinds": kinds,
                "members": members,
            }
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mode = 0o600
            archive.addfile(info, _BytesReader(data))
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return summary


class _Counted:
    def __init__(self, rows: Iterator[models.Model]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[models.Model]:
        for row in self.rows:
            self.count += 1
            yield row


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk


def _add_file(archive: tarfile.TarFile, member: str, source: Path, size: int) -> None:
    info = tarfile.TarInfo(member)
    info.size = size
    info.mode = 0o600
    with source.open("rb") as stream:
        archive.addfile(info, stream)


class _HashingReader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


def _add_media(archive: tarfile.TarFile, member: str, name: str) -> dict[str, Any]:
    info = tarfile.TarInfo(member)
    info.size = default_storage.size(name)
    info.mode = 0o600
    with default_storage.open(name, "rb") as stream:
        reader = _HashingReader(stream)
        archive.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


def _safe_name(name: str) -> bool:
    """A relative POSIX path without `..`, `.`, empty parts, backslashes or control characters."""
    if not name or len(name) > MAX_MEMBER_NAME or "\\" in name or "\x00" in name:
        return False
    if any(ord(character) < 32 for character in name):
        return False
    # Split by hand: PurePosixPath would drop the "." parts it should refuse.
    if name.startswith("/") or any(part in ("..", ".", "") for part in name.split("/")):
        return False
    return name.split("/", 1)[0] in (RECORDS_DIRECTORY, MEDIA_DIRECTORY) or name == MANIFEST


# --- restore -------------------------------------------------------------------------------


def site_has_content() -> str:
    """The first kind of record this install already holds, or "" when it is empty."""
    for model in exported_models():
        if _label(model) in SEEDED_MODELS:
            continue
        if model._default_manager.exists():
            return _label(model)
    return ""


def _unpack(path: Path, staging: Path) -> dict[str, Any]:
    """Every member into `staging`, checked: names, kinds, then sizes and checksums."""
    seen: dict[str, dict[str, Any]] = {}
    manifest_data = b""
    try:
        # Opened apart from the `with` below: a file that is no archive has its own message.
        archive = tarfile.open(path, mode="r:gz")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as error:
        raise PortabilityError(f"{path} is not a Pressroom export (.tar.gz): {error}") from None
    with archive:
        try:
            for count, info in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise PortabilityError("the archive holds too many members")
                if not _safe_name(info.name):
                    raise PortabilityError(f"refused: unsafe member name {info.name[:200]!r}")
                if info.isdir():
                    continue
                if not info.isfile():
                    raise PortabilityError(f"refused: {info.name!r} is not a regular file")
                if info.name in seen or (info.name == MANIFEST and manifest_data):
                    raise PortabilityError(f"refused: {info.name!r} appears twice")
                stream = archive.extractfile(info)
                assert stream is not None  # a regular file
                if info.name == MANIFEST:
                    if info.size > MAX_MANIFEST_BYTES:
                        raise PortabilityError("refused: the manifest is too large")
                    manifest_data = stream.read()
                    continue
                target = staging / info.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                seen[info.name] = {"sha256": digest.hexdigest(), "size": info.size}
        except (tarfile.TarError, EOFError, zlib.error) as error:
            raise PortabilityError(f"{path} is damaged: {error}") from None
    if not manifest_data:
        raise PortabilityError(f"{path} has no {MANIFEST}: not a Pressroom export")
    try:
        manifest = json.loads(manifest_data)
    except ValueError:
        raise PortabilityError(f"{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PortabilityError(f"{path} is not a Pressroom export")
    if manifest.get("version") != FORMAT_VERSION:
        raise PortabilityError(
            f"export format version {manifest.get('version')!r} is not {FORMAT_VERSION}; "
            "restore it with the Pressroom that wrote it"
        )
    listed = manifest.get("members")
    if not isinstance(listed, dict):
        raise PortabilityError(f"{MANIFEST} lists no members")
    for name in sorted(set(listed) | set(seen)):
        if name not in seen:
            raise PortabilityError(f"refused: {name!r} is in the manifest but not the archive")
        if name not in listed:
            raise PortabilityError(f"refused: {name!r} is in the archive but not the manifest")
        if listed[name] != seen[name]:
            raise PortabilityError(f"refused: checksum mismatch for {name!r} (damaged or altered)")
    return manifest


def _check_schema(manifest: dict[str, Any]) -> None:
    archived = manifest.get("schema")
    if not isinstance(archived, dict):
        raise PortabilityError(f"{MANIFEST} has no schema version")
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    labels = {config.label for config in apps.get_app_configs()}
    for app, name in sorted(archived.items()):
        if not isinstance(app, str) or not isinstance(name, str):
            raise PortabilityError(f"{MANIFEST} has a malformed schema version")
        if app in labels and (app, name) not in known:
            raise PortabilityError(
                f"refused: the export's schema ({app} {name}) is newer than this code; "
                "upgrade Pressroom first"
            )
    current = schema()
    for app, name in sorted(archived.items()):
        if app in current and current[app] < name:
            raise PortabilityError(
                f"refused: this database is at {app} {current[app]}, the export at {name}; "
                "run `pressroom migrate` first"
            )


def _check_kinds(manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    kinds = manifest.get("kinds")
    if not isinstance(kinds, list):
        raise PortabilityError(f"{MANIFEST} lists no kinds of record")
    allowed = {_label(model) for model in exported_models()}
    checked: list[tuple[str, str, int]] = []
    for kind in kinds:
        if not isinstance(kind, dict):
            raise PortabilityError(f"{MANIFEST} has a malformed kind of record")
        label, member, count = kind.get("model"), kind.get("member"), kind.get("count")
        if label not in allowed or member != f"{RECORDS_DIRECTORY}/{label}.jsonl":
            raise PortabilityError(f"refused: unknown kind of record {str(label)[:100]!r}")
        if member not in manifest["members"] or not isinstance(count, int):
            raise PortabilityError(f"{MANIFEST} is inconsistent for {label}")
        checked.append((label, member, count))
    return checked


def restore_site(path: Path, *, progress: Progress = print) -> Summary:
    """Load an export into this empty install (see the module's docstring)."""
    path = Path(path).absolute()
    if not path.is_file():
        raise PortabilityError(f"{path} is not a file")
    occupied = site_has_content()
    if occupied:
        raise PortabilityError(
            f"refused: this site already has content ({occupied}); restore into an empty install"
        )
    summary = Summary(path)
    with tempfile.TemporaryDirectory(prefix="pressroom-restore-") as scratch:
        staging = Path(scratch)
        os.chmod(staging, 0o700)
        manifest = _unpack(path, staging)
        _check_schema(manifest)
        kinds = _check_kinds(manifest)
        media = sorted(
            name for name in manifest["members"] if name.startswith(f"{MEDIA_DIRECTORY}/")
        )
        for name in media:
            if default_storage.exists(name.removeprefix(f"{MEDIA_DIRECTORY}/")):
                raise PortabilityError(f"refused: media file {name!r} already exists here")
        moved: list[str] = []
        try:
            with transaction.atomic():
                with connection.constraint_checks_disabled():
                    for label, _, _ in kinds:
                        if label in SEEDED_MODELS:
                            apps.get_model(label)._default_manager.all().delete()
                    for label, member, expected in kinds:
                        count = _load(staging / member, label)
                        if count != expected:
                            raise PortabilityError(
                                f"{member} holds {count} records, the manifest says {expected}"
                            )
                        summary.counts[label] = count
                        progress(f"{label}: {count}")
                tables = [apps.get_model(label)._meta.db_table for label, _, _ in kinds]
                connection.check_constraints(table_names=tables)
                _reset_sequences([apps.get_model(label) for label, _, _ in kinds])
                indexed = index_articles()
                progress(f"search index: {indexed} articles")
                for name in media:
                    wanted = name.removeprefix(f"{MEDIA_DIRECTORY}/")
                    with (staging / name).open("rb") as stream:
                        saved = default_storage.save(wanted, File(stream))
                    moved.append(saved)
                    if saved != wanted:  # the storage renamed it: records name the original
                        raise PortabilityError(f"media file {wanted!r} could not keep its name")
                    (staging / name).unlink()
                # Pages cached before the restore (an empty site's) are out of date.
                transaction.on_commit(
                    lambda: content_changed.send(sender=Article, article_ids=None)
                )
                summary.media_files = len(moved)
                progress(f"media files: {len(moved)}")
        except (DatabaseError, DeserializationError) as error:
            _remove(moved)
            first = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise PortabilityError(f"restore failed, nothing was changed: {first[:300]}") from None
        except BaseException:
            _remove(moved)
            raise
    return summary


def _remove(names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            default_storage.delete(name)


def _load(records: Path, label: str) -> int:
    count = 0
    with records.open(encoding="utf-8") as stream:
        for restored in serializers.deserialize("jsonl", stream):
            if _label(type(restored.object)) != label:
                raise PortabilityError(f"refused: the {label} records hold another kind")
            restored.save()
            count += 1
    return count


def _reset_sequences(chosen: list[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), chosen)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
