"""``python -m aisle backup`` / ``restore``: the database and everything under AISLE_DATA_DIR in one archive.

The archive is a tar file (gzip-compressed when its name ends in .gz or .tgz): ``database/`` holds the
database (SQLite: a copy made with sqlite3's online backup API, so a running stack keeps writing;
PostgreSQL: a ``pg_dump`` custom-format dump), ``data/`` every file under AISLE_DATA_DIR (trained models,
the encoder, search and knowledge indexes, the secrets files) except the SQLite database itself and logs,
and ``manifest.json`` (last) lists every member with its size and SHA-256, the database backend and the
schema revision. The archive holds every conversation and the secrets: it is written mode 0600.

Restore never half-applies. It first extracts the whole archive into a staging folder beside the data dir,
checking every name, size and checksum, the backend and that this Aisle knows the schema revision; a
non-empty target (any row in the database, or a data file the archive would replace with other content)
is refused without ``--force``. Only then are the files swapped into place and the database loaded in one
step (sqlite3's backup API into the target file; ``pg_restore --single-transaction``); if loading fails,
the previous files are put back.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from aisle.config import Settings
from aisle.db import engine_for
from aisle.migrate import alembic_config

log = logging.getLogger(__name__)
FORMAT, VERSION = "aisle-backup", 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/aisle.db", "postgresql": "database/aisle.pgdump"}
CHUNK = 1 << 20
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
SKIPPED_SUFFIXES = (".log",)  # training and service logs: not state
TOOL_TIMEOUT_S = 3600
# What reading a damaged or truncated archive raises (a bad gzip stream raises zlib.error).
UNREADABLE = (tarfile.TarError, EOFError, OSError, zlib.error)


class BackupError(RuntimeError):
    """The backup or restore cannot be done as asked; nothing was changed."""


@dataclass(frozen=True)
class Target:
    """The database and data dir a backup is read from or a restore written to."""

    database_url: str
    data_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> "Target":
        return cls(settings.database_url, settings.data_dir)

    @property
    def backend(self) -> str:
        backend = make_url(self.database_url).get_backend_name()
        if backend not in DATABASE_MEMBERS:
            raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")
        return backend

    @property
    def sqlite_path(self) -> Path | None:
        if self.backend != "sqlite":
            return None
        database = make_url(self.database_url).database
        if not database or database == ":memory:":
            raise BackupError("an in-memory SQLite database cannot be backed up or restored")
        return Path(database).resolve()

    def skipped(self, path: Path) -> bool:
        """The SQLite database's own files (copied through the backup API instead) and logs."""
        db = self.sqlite_path
        if db is not None and path.resolve() in {db, *(db.with_name(db.name + s) for s in SQLITE_SIDE_FILES)}:
            return True
        return path.name.endswith(SKIPPED_SUFFIXES)

    def data_files(self) -> Iterator[tuple[str, Path]]:
        """(relative POSIX path, file) for every file to archive; linked model folders are followed."""
        if not self.data_dir.is_dir():
            return
        for root, dirs, files in os.walk(self.data_dir, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # restore staging, scratch
            for name in sorted(files):
                path = Path(root) / name
                if not name.startswith(".") and path.is_file() and not self.skipped(path):
                    yield path.relative_to(self.data_dir).as_posix(), path


def schema_revision(target: Target, dump: Path) -> str | None:
    """The Alembic revision of what was backed up: SQLite's from the snapshot itself (opened read-only,
    so it stays byte for byte what the backup API wrote), PostgreSQL's from the server."""
    query = "SELECT version_num FROM alembic_version"
    if target.backend == "sqlite":
        snapshot = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        try:
            row = snapshot.execute(query).fetchone()
        except sqlite3.Error:  # never migrated
            return None
        finally:
            snapshot.close()
        return row[0] if row else None
    try:
        with engine_for(target.database_url).connect() as conn:
            return conn.execute(text(query)).scalar()
    except SQLAlchemyError:
        return None


def known_revisions(url: str) -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}


def libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump / pg_restore connection arguments and environment: the password goes in PGPASSWORD, never
    on the command line (other users can read process lists)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def run_tool(command: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed: PostgreSQL backups need the PostgreSQL client "
                          "tools (Debian: apt-get install postgresql-client), at least the server's version")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")


def dump_database(target: Target, into: Path) -> Path:
    out = into / Path(DATABASE_MEMBERS[target.backend]).name
    if target.backend == "sqlite":
        db = target.sqlite_path
        assert db is not None
        if not db.exists():
            raise BackupError(f"there is no database at {db} to back up")
        source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        copy = sqlite3.connect(out)
        try:
            source.backup(copy)  # a consistent snapshot while other processes keep writing
        finally:
            copy.close()
            source.close()
    else:
        args, env = libpq(target.database_url)
        run_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(out), *args],
                 env, "pg_dump")
    return out


class HashingReader(io.RawIOBase):
    """Passes a file through to tarfile, hashing what it reads."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def write_mode(path: Path) -> str:
    return "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"


def backup(target: Target, out: Path) -> dict[str, Any]:
    """Write the archive to ``out`` (atomically: a partial file never has its name); returns the manifest."""
    out = out.resolve()
    if out.is_relative_to(target.data_dir.resolve()):
        raise BackupError(f"write the backup outside AISLE_DATA_DIR ({target.data_dir}): each backup would "
                          "otherwise hold the ones before it")
    out.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".aisle-backup-") as scratch, \
                os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode=write_mode(out)) as tar:
            dump = dump_database(target, Path(scratch))
            revision = schema_revision(target, dump)
            members = [(DATABASE_MEMBERS[target.backend], dump)]
            members += [(f"data/{rel}", path) for rel, path in target.data_files()]
            for name, path in members:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = path.stat().st_size, int(path.stat().st_mtime), 0o600
                with path.open("rb") as source:
                    reader = HashingReader(source)
                    tar.addfile(info, reader)
                files[name] = {"size": reader.size, "sha256": reader.digest.hexdigest()}
            manifest = {"format": FORMAT, "version": VERSION, "created_at": datetime.now(timezone.utc).isoformat(),
                        "database": {"backend": target.backend, "revision": revision}, "files": files}
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(datetime.now().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(body))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    log.info("backed up %s database (schema %s) and %d data files to %s", target.backend, revision,
             len(files) - 1, out)
    return manifest


# --- restore -------------------------------------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(tar: tarfile.TarFile, target: Target) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        manifest = json.loads(handle.read() if handle else b"")
    except KeyError:
        raise BackupError(f"no {MANIFEST}: not an Aisle backup") from None
    except ValueError:
        raise BackupError(f"{MANIFEST} is not valid JSON: the archive is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("not an Aisle backup (its manifest says another format)")
    if manifest.get("version") != VERSION:
        raise BackupError(f"backup format version {manifest.get('version')!r}; this Aisle reads version {VERSION}")
    database = manifest.get("database") or {}
    files = manifest.get("files")
    if not isinstance(files, dict) or DATABASE_MEMBERS.get(database.get("backend")) not in files:
        raise BackupError(f"{MANIFEST} lists no database: the archive is damaged")
    if database["backend"] != target.backend:
        raise BackupError(f"this backup holds a {database['backend']} database and AISLE_DATABASE_URL is "
                          f"{target.backend}: restore it into a {database['backend']} database")
    revision = database.get("revision")
    if revision is not None and revision not in known_revisions(target.database_url):
        raise BackupError(f"the backup's schema revision {revision} is unknown to this Aisle (made by a newer "
                          "version?): restore it with the Aisle release that made it")
    return manifest


def safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] not in ("data", "database"):
        raise BackupError(f"the archive holds an unsafe path {name!r}: refusing it")
    return path


def stage(tar: tarfile.TarFile, manifest: dict[str, Any], staging: Path) -> None:
    """Extract every listed member into ``staging``, checking it against the manifest as it is written."""
    expected: dict[str, dict[str, Any]] = manifest["files"]
    seen = set()
    for member in tar:
        if member.name == MANIFEST:
            continue
        path = safe_member_path(member.name)
        if member.name not in expected or not member.isfile():
            raise BackupError(f"the archive holds {member.name!r}, which its manifest does not list")
        if member.name in seen:
            raise BackupError(f"the archive holds {member.name!r} twice")
        seen.add(member.name)
        destination = staging.joinpath(*path.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None
        reader = HashingReader(source)
        with destination.open("wb") as out:
            shutil.copyfileobj(reader, out, CHUNK)  # type: ignore[misc]
        want = expected[member.name]
        if reader.size != want.get("size") or reader.digest.hexdigest() != want.get("sha256"):
            raise BackupError(f"{member.name} does not match its checksum: the archive is damaged")
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive is missing {', '.join(missing[:5])}: it is damaged or truncated")


def database_rows(url: str) -> list[str]:
    """Tables that hold at least one row (Alembic's own bookkeeping aside)."""
    try:
        engine = engine_for(url)
        names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
        with engine.connect() as conn:
            return [n for n in names if conn.execute(select(text("1")).select_from(table(n)).limit(1)).first()]
    except SQLAlchemyError as exc:
        if make_url(url).get_backend_name() == "sqlite":
            raise BackupError(f"cannot read the target database: {exc.__class__.__name__}") from None
        raise BackupError(f"cannot connect to the target database: {exc.__class__.__name__}") from None


def conflicts(target: Target, manifest: dict[str, Any]) -> list[str]:
    """What restoring would overwrite: tables with rows, and data files that differ from the archive's."""
    sqlite_path = target.sqlite_path
    absent = sqlite_path is not None and not sqlite_path.exists()  # connecting would create the file
    found = [] if absent else [f"database table {n}" for n in database_rows(target.database_url)]
    for name, want in manifest["files"].items():
        if name.startswith("data/"):
            existing = target.data_dir / name.removeprefix("data/")
            if existing.exists() and (existing.stat().st_size != want["size"]
                                      or sha256_of(existing) != want["sha256"]):
                found.append(str(existing))
    return found


def check_inside(target: Target, relative: str) -> Path:
    """The file's place in the data dir, refusing a folder that is a link out of it (it would write there)."""
    destination = target.data_dir / relative
    root = target.data_dir.resolve()
    if not destination.parent.resolve().is_relative_to(root):
        raise BackupError(f"{destination.parent} links outside {target.data_dir}: replace the link with a "
                          "folder, or restore into another AISLE_DATA_DIR")
    return destination


def load_database(target: Target, dump: Path) -> None:
    if target.backend == "sqlite":
        db = target.sqlite_path
        assert db is not None
        db.parent.mkdir(parents=True, exist_ok=True)
        source, destination = sqlite3.connect(f"file:{dump}?mode=ro", uri=True), sqlite3.connect(db)
        try:
            source.backup(destination)  # replaces the whole target database in one step, or nothing
        except sqlite3.Error as exc:
            raise BackupError(f"loading the SQLite database failed: {exc}") from None
        finally:
            destination.close()
            source.close()
    else:
        args, env = libpq(target.database_url)
        run_tool(["pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner",
                  "--no-privileges", *args, str(dump)], env, "pg_restore")
    engine_for.cache_clear()  # pooled connections saw the old database


@dataclass
class FileSwap:
    """Staged files moved into the data dir, with what they replaced kept aside until the end."""

    target: Target
    aside: Path
    moved: list[tuple[Path, Path | None]]  # (restored file, where the file it replaced was put)

    def apply(self, staged: Path, relatives: list[str]) -> None:
        for rel in relatives:
            destination = check_inside(self.target, rel)
            destination.parent.mkdir(parents=True, exist_ok=True)
            kept = None
            if destination.exists():
                kept = self.aside / rel
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(destination, kept)
            self.moved.append((destination, kept))
            os.replace(staged / rel, destination)

    def undo(self) -> None:
        for destination, kept in reversed(self.moved):
            if kept is not None:
                os.replace(kept, destination)
            else:
                destination.unlink(missing_ok=True)
        self.moved.clear()


def restore(target: Target, archive: Path, force: bool = False) -> dict[str, Any]:
    """Check ``archive`` whole, then restore it into ``target`` (see the module docstring)."""
    if not archive.is_file():
        raise BackupError(f"no backup at {archive}")
    target.data_dir.mkdir(parents=True, exist_ok=True)
    work = target.data_dir.parent / f".{target.data_dir.name}.restore-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                manifest = read_manifest(tar, target)
                data = sorted(n.removeprefix("data/") for n in manifest["files"] if n.startswith("data/"))
                for rel in data:
                    check_inside(target, rel)
                if not force:
                    found = conflicts(target, manifest)
                    if found:
                        raise BackupError("the target is not empty, restoring would overwrite "
                                          f"{', '.join(found[:5])}{' and more' if len(found) > 5 else ''}; "
                                          "add --force to replace it")
                stage(tar, manifest, work / "staged")
        except UNREADABLE as exc:
            raise BackupError(f"{archive} is damaged or truncated ({exc.__class__.__name__}: {exc})") from None
        swap = FileSwap(target, work / "replaced", [])
        try:
            swap.apply(work / "staged" / "data", data)
            load_database(target, work / "staged" / DATABASE_MEMBERS[target.backend])
        except BaseException:
            swap.undo()
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    revision = manifest["database"].get("revision")
    log.info("restored %s database (schema %s) and %d data files from %s", target.backend, revision, len(data),
             archive)
    if revision not in ScriptDirectory.from_config(alembic_config(target.database_url)).get_heads():
        log.warning("the restored database has an older schema: run `python -m aisle migrate` before starting")
    return manifest
