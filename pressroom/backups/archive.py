"""One backup archive: writing it, keeping the last few, and restoring it into an empty site.

An archive `pressroom-YYYYMMDD-HHMMSSZ.tar.gz` holds:
- `manifest.json`: the format, when, the database engine, the migrations applied, what is inside;
- `database.pgdump` (pg_dump's custom format) or `database.sqlite3` (SQLite's online backup API,
  consistent while the site keeps writing);
- `media/`: MEDIA_ROOT, when one is configured and exists;
- `settings/pressroom.env` (PRESSROOM_ENV_FILE) and `settings/dkim-private-key.pem`
  (DKIM_PRIVATE_KEY_PATH): signed links in sent emails need the same SECRET_KEY, and mail keeps
  its DKIM signature only with the same key.
Archives and their directory are readable by their owner only (0600, 0700): they hold secrets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import DatabaseError

from pressroom.backups import isolation

FORMAT = 1
ARCHIVE_NAME = re.compile(r"^pressroom-\d{8}-\d{6}Z\.tar\.gz$")
ENV_FILE_MEMBER = "settings/pressroom.env"
DKIM_KEY_MEMBER = "settings/dkim-private-key.pem"
DATABASE_MEMBERS = ("database.pgdump", "database.sqlite3")


class BackupError(Exception):
    """What went wrong, in one line an operator can act on."""


@dataclass
class Restored:
    engine: str
    database: str
    media_root: str = ""
    settings_files: list[Path] = field(default_factory=list)
    isolated_as: str = ""
    created: str = ""


def engine() -> str:
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise BackupError(f"backups support PostgreSQL and SQLite databases, not {vendor}")
    return vendor


def archives(directory: Path) -> list[Path]:
    """The backups in `directory`, oldest first (their names sort by date)."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if ARCHIVE_NAME.match(path.name))


def create_backup(directory: Path, *, keep: int) -> Path:
    """Write one archive into `directory`, then delete all but the newest `keep`."""
    if keep < 1:
        raise BackupError(f"--keep must be 1 or more, not {keep}")
    directory = Path(directory).absolute()
    try:
        _prepare_directory(directory)
        return _create_backup(directory, keep=keep)
    except OSError as error:
        raise BackupError(_os_problem(error)) from None


def _prepare_directory(directory: Path) -> None:
    """The archives hold every subscriber and the DKIM key: their directory is the owner's
    alone. One that exists is left as it is (it may be a mount point, or hold other things)
    and refused if others may use it; a new one is created 0700."""
    from pressroom.settings import refuse_code_directory

    try:
        refuse_code_directory("the backup directory", directory)
    except ImproperlyConfigured as error:
        raise BackupError(str(error)) from None
    if directory.exists():
        if not directory.is_dir():
            raise BackupError(f"{directory} is not a directory")
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            raise BackupError(
                f"{directory} is open to other users (mode {mode:o}): `chmod 700` it, or name "
                "a directory of its own for the backups"
            )
        return
    try:
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)  # mkdir's mode passes through the umask
    except OSError as error:
        raise BackupError(f"cannot use {directory} for backups: {error.strerror}") from None


def _create_backup(directory: Path, *, keep: int) -> Path:
    kind = engine()
    target = _new_archive_path(directory)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=directory))
    try:
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "pressroom": _version(),
            "engine": kind,
        }
        try:
            manifest["migrations"] = _migrations()
        except DatabaseError as error:
            raise BackupError(f"cannot read the database: {_first_line(error)}") from None
        members: list[tuple[Path, str]] = []
        database = work / ("database.pgdump" if kind == "postgresql" else "database.sqlite3")
        if kind == "postgresql":
            _pg_dump(database)
        else:
            _sqlite_copy(Path(settings.DATABASES["default"]["NAME"]), database)
        members.append((database, database.name))
        manifest["database"] = database.name
        media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
        if media_root and Path(media_root).is_dir():
            members.append((Path(media_root), "media"))
            manifest["media"] = "media"
        settings_files = _settings_files()
        members += settings_files
        manifest["settings"] = [member for _, member in settings_files]
        partial = work / "archive.tar.gz"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                manifest_path = work / "manifest.json"
                manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
                tar.add(manifest_path, "manifest.json", filter=_owner_only)
                for source, member in members:
                    try:
                        # Resolved: a MEDIA_ROOT or env file that is a symlink (to a bigger
                        # disk, to /etc) is saved as what it points to, not as a bare link.
                        tar.add(source.resolve(), member, filter=_owner_only)
                    except OSError as error:
                        raise BackupError(
                            f"cannot read {error.filename or source}: {error.strerror}"
                        ) from None
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for old in archives(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def restore_backup(path: Path, *, go_live: bool = False) -> Restored:
    """Restore `path` into the configured (empty) database, media root and var directory."""
    path = Path(path)
    try:
        with path.open("rb"):
            pass
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise BackupError(f"no backup at {path}") from None
    except OSError as error:
        raise BackupError(
            f"cannot read {path}: {error.strerror}; copy it where this user can read it "
            "(`install -o pressroom -m 0600 FILE /var/lib/pressroom/backups/`)"
        ) from None
    try:
        return _restore_backup(path, go_live=go_live)
    except OSError as error:
        raise BackupError(_os_problem(error)) from None


def _restore_backup(path: Path, *, go_live: bool) -> Restored:
    manifest = read_manifest(path)
    kind = engine()
    if manifest.get("engine") != kind:
        raise BackupError(
            f"{path.name} holds a {manifest.get('engine')} database but DATABASE_URL names a "
            f"{kind} one: restore into the same kind of database"
        )
    name = str(settings.DATABASES["default"]["NAME"])
    if kind == "sqlite":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    try:
        tables = connection.introspection.table_names()
    except DatabaseError as error:
        raise BackupError(f"cannot open the database {name}: {_first_line(error)}") from None
    finally:
        connection.close()
    if tables:
        raise BackupError(
            f"the database {name} is not empty ({len(tables)} tables): "
            "restore-backup only restores into an empty database"
        )
    media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    if manifest.get("media") and media_root and _has_files(Path(media_root)):
        raise BackupError(
            f"the media directory {media_root} is not empty: restore into an empty one"
        )
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Isolated before anything is written: a restore that fails half-way (a full disk, a bad
    # media folder) must not leave a copy whose worker would mail the subscribers it holds.
    isolated_as = "" if go_live else isolation.isolate()
    written = False
    work = Path(tempfile.mkdtemp(prefix=".restore-", dir=settings.VAR_DIR))
    try:
        try:
            with tarfile.open(path, "r:gz") as tar:
                tar.extractall(work, filter=_regular_files_only)  # noqa: S202 (filtered)
        except (tarfile.TarError, EOFError, zlib.error) as error:
            raise BackupError(f"{path.name} cannot be unpacked: {_first_line(error)}") from None
        # Only the names create_backup writes: the manifest must not point anywhere else
        # (an absolute path would restore some other file on this machine).
        if manifest.get("database") not in DATABASE_MEMBERS:
            raise BackupError(f"{path.name} has no database in it")
        database = work / str(manifest["database"])
        if not database.is_file():
            raise BackupError(f"{path.name} has no database in it")
        written = True  # from here on the database may hold the copy, whole or in part
        if kind == "postgresql":
            _pg_restore(database)
        else:
            _sqlite_copy(database, Path(name))
        restored = Restored(engine=kind, database=name, created=str(manifest.get("created")))
        if manifest.get("media") and media_root:
            shutil.copytree(work / "media", media_root, dirs_exist_ok=True)
            restored.media_root = media_root
        restored.settings_files = _keep_settings_files(work, manifest.get("settings") or [])
    except BaseException:
        if isolated_as and not written:
            isolation.go_live()  # nothing was restored: the database is as empty as before
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    restored.isolated_as = isolated_as
    return restored


def _regular_files_only(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo:
    """tarfile's "data" filter (no absolute paths, nothing outside the destination, no device
    files), and no links at all: create_backup writes none, and a link in media/ would be
    followed when the folder is copied (a loop, or another file published as media)."""
    if member.issym() or member.islnk():
        raise tarfile.FilterError(f"{member.name!r} is a link; backups hold only files")
    return tarfile.data_filter(member, destination)


def read_manifest(path: Path) -> dict:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = json.loads(member.read(1024 * 1024))
    except (tarfile.TarError, OSError, EOFError, KeyError, ValueError):
        raise BackupError(f"{path} is not a Pressroom backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Pressroom backup this version can restore")
    return manifest


def _new_archive_path(directory: Path) -> Path:
    # Names carry the second (UTC); a second backup within the same second waits for the next.
    for _ in range(3):
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%SZ")
        target = directory / f"pressroom-{stamp}.tar.gz"
        if not target.exists():
            return target
        time.sleep(1)
    raise BackupError(f"{target} already exists")


def _owner_only(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.mode &= 0o700
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _settings_files() -> list[tuple[Path, str]]:
    files = []
    for setting, member in (
        ("PRESSROOM_ENV_FILE", ENV_FILE_MEMBER),
        ("DKIM_PRIVATE_KEY_PATH", DKIM_KEY_MEMBER),
    ):
        value = getattr(settings, setting, "")
        if not value:
            continue
        source = Path(value)
        if not source.is_file():
            raise BackupError(f"{setting}={value} is not a readable file")
        files.append((source, member))
    return files


def _keep_settings_files(work: Path, members: list[str]) -> list[Path]:
    """The backup's settings file and DKIM key, put beside the database for the operator."""
    kept = []
    target = Path(settings.VAR_DIR) / "restored-settings"
    for member in members:
        source = work / member
        if member not in {ENV_FILE_MEMBER, DKIM_KEY_MEMBER} or not source.is_file():
            continue
        target.mkdir(mode=0o700, exist_ok=True)
        destination = target / Path(member).name
        shutil.copyfile(source, destination)
        destination.chmod(0o600)
        kept.append(destination)
    return kept


def _has_files(directory: Path) -> bool:
    return directory.is_dir() and any(directory.iterdir())


def _sqlite_copy(source: Path, destination: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections write."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    # as_uri() percent-encodes the path: a "#" or "?" in it would otherwise end the file name,
    # and SQLite would create an empty database there and back that up instead.
    source_uri = source.absolute().as_uri() + "?mode=ro"
    source_connection = sqlite3.connect(source_uri, uri=True, timeout=20)
    try:
        destination_connection = sqlite3.connect(destination)
        try:
            source_connection.backup(destination_connection)
        finally:
            destination_connection.close()
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup of {source} failed: {error}") from None
    finally:
        source_connection.close()


def _pg_environment() -> dict[str, str]:
    """libpq's variables for the application's own role and database (no password in argv)."""
    database = settings.DATABASES["default"]
    environment = dict(os.environ)
    for variable, value in (
        ("PGHOST", database.get("HOST")),
        ("PGPORT", database.get("PORT")),
        ("PGUSER", database.get("USER")),
        ("PGPASSWORD", database.get("PASSWORD")),
        ("PGDATABASE", database.get("NAME")),
        ("PGSSLMODE", (database.get("OPTIONS") or {}).get("sslmode")),
    ):
        if value:
            environment[variable] = str(value)
    return environment


def _run_pg_tool(arguments: list[str]) -> None:
    tool = arguments[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: `apt-get install postgresql-client` (the server's version)"
        )
    result = subprocess.run(
        arguments, env=_pg_environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise BackupError(f"{tool} failed: {message[0]}")


def _pg_dump(destination: Path) -> None:
    _run_pg_tool(["pg_dump", "--format=custom", f"--file={destination}"])


def _pg_restore(dump: Path) -> None:
    # As the application's role: objects become its own (--no-owner), grants made for other
    # roles on the old server are left out (--no-privileges), and nothing is half-restored.
    _run_pg_tool(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(dump),
        ]
    )


def _migrations() -> dict[str, str]:
    """The newest migration applied per app: what a rollback has to match."""
    newest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        if name > newest.get(app, ""):
            newest[app] = name
    return newest


def _version() -> str:
    try:
        return metadata.version("pressroom")
    except metadata.PackageNotFoundError:
        return "unknown"


def _os_problem(error: OSError) -> str:
    """One line for a file the command could not read or write."""
    where = f" {error.filename}" if error.filename else ""
    return f"cannot use{where}: {error.strerror or error}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
