"""Land a source file: fetch it (HTTP or a local folder) to ``landing/`` under its content hash.

The landed file is the raw evidence every figure can be traced back to, so it is kept as
published (a local ``.gz`` is decompressed on the way in, so the hash is of the CSV itself).

File names come from sources (a return folder's listing, a configured URL's files), so a name
never decides where anything is read or written outside its source: a ``relative`` path that is
absolute or climbs out with ``..`` is refused, a local file that resolves outside its folder (a
symlink to elsewhere) is refused, and only the name's last part is used under ``landing/``. A
local copy is held to the same ``max_bytes`` cap as a download, counted after decompressing,
so a ``.csv.gz`` bomb cannot fill the disk; an unreadable or corrupt local file is a FetchError
naming it, and leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from safer.kernel import faults
from safer.kernel.errors import FetchError, LocalFault
from safer.pipelines.http import Downloaded, FetchPolicy, download

__all__ = ["Landed", "find_local", "land", "read_hashing"]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Landed:
    """Where a fetch left the file; ``path`` is None unless ``status`` is ``ok``."""

    status: str  # ok | not_modified | not_found
    url: str
    path: Path | None = None
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def land(
    base: str,
    relative: str,
    folder: Path,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Landed:
    """Fetch ``base/relative`` into ``folder``; raises FetchError as ``download`` does, and for
    a ``relative`` that would leave ``base`` (``..``, an absolute path) or names no file."""
    name = relative.rsplit("/", 1)[-1]
    _refuse_escape(base, relative, name)
    temp = folder / f"{name}.download"
    folder.mkdir(parents=True, exist_ok=True)
    if "://" in base:
        url = f"{base.rstrip('/')}/{relative}"
        expect = name.rsplit(".", 1)[-1].lower() if "." in name else "file"
        got = download(url, temp, policy, etag=etag, last_modified=last_modified, expect=expect)
    else:
        url, got = _copy_local(Path(base), relative, temp, policy.max_bytes)
    if got.status != "ok" or got.sha256 is None:
        return Landed(got.status, url, etag=got.etag or etag, last_modified=last_modified)
    stem, _, suffix = name.rpartition(".")
    final = folder / f"{stem}.{got.sha256[:12]}.{suffix}"
    faults.point("download.written")
    temp.replace(final)
    return Landed("ok", url, final, got.sha256, got.etag, got.last_modified)


def _refuse_escape(base: str, relative: str, name: str) -> None:
    """A file name from a source must stay under its base (see the module docstring)."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or name in ("", ".", ".."):
        raise FetchError(
            f"{base}: refused the file name {relative!r}: it is not a file under the source's "
            "folder or URL (absolute, or climbing out with '..')",
            transient=False,
        )


def _copy_local(base: Path, relative: str, dest: Path, max_bytes: int) -> tuple[str, Downloaded]:
    """A local folder laid out like the site, or flat; ``.gz`` copies are accepted too."""
    found = find_local(base, relative)
    if found is None:
        return str(base / relative), Downloaded(status="not_found")
    try:
        with dest.open("wb") as out:
            sha256, size = read_hashing(found, max_bytes, _writer(out.write, dest))
        shutil.copystat(found, dest)
    except OSError as exc:  # the copy: a full disk, no permission: ours, not the source's
        dest.unlink(missing_ok=True)
        raise LocalFault(f"{dest}: cannot be written: {exc.strerror or exc}") from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return str(found), Downloaded(status="ok", sha256=sha256, size=size)


def _writer(write: Callable[[bytes], object], dest: Path) -> Callable[[bytes], object]:
    """``write``, raising LocalFault when the disk fails it: ``read_hashing`` maps its own
    OSErrors to the source file, and a full disk here is not the source's fault."""

    def guarded(chunk: bytes) -> object:
        try:
            return write(chunk)
        except OSError as exc:
            raise LocalFault(f"{dest}: cannot be written: {exc.strerror or exc}") from exc

    return guarded


def find_local(base: Path, relative: str) -> Path | None:
    """The file ``relative`` in a local folder laid out like the site, or flat, or gzipped;
    None when there is none. Raises FetchError for one that resolves outside ``base`` (a
    symlink, say)."""
    name = relative.rsplit("/", 1)[-1]
    for candidate in (base / relative, base / name, base / f"{relative}.gz", base / f"{name}.gz"):
        if candidate.is_file():
            if not candidate.resolve().is_relative_to(base.resolve()):
                raise FetchError(
                    f"{candidate}: refused: it resolves to {candidate.resolve()}, outside the "
                    f"source's folder {base}",
                    transient=False,
                )
            return candidate
    return None


def read_hashing(
    source: Path, max_bytes: int, write: Callable[[bytes], object] | None = None
) -> tuple[str, int]:
    """The SHA-256 and size of the CSV itself (a ``.gz`` is read decompressed, as a download
    is), each chunk passed to ``write`` when given. Raises FetchError naming the file when it
    is over ``max_bytes`` (counted decompressed) or cannot be read."""
    digest, size = hashlib.sha256(), 0
    opener = gzip.open if source.suffix == ".gz" else open
    try:
        with opener(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(
                        f"{source}: over the {max_bytes:,}-byte cap (counted decompressed); "
                        "refused",
                        transient=False,
                    )
                digest.update(chunk)
                if write is not None:
                    write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a .gz cut short raises EOFError.
        raise FetchError(f"{source}: cannot be read: {exc}", transient=False) from exc
    return digest.hexdigest(), size
