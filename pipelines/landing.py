"""Land a source file: fetch it (HTTP or a local folder) to ``landing/`` under its content hash.

The landed file is the raw evidence every figure can be traced back to, so it is kept as
published (a local ``.gz`` is decompressed on the way in, so the hash is of the CSV itself).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.http import Downloaded, FetchPolicy, download

__all__ = ["Landed", "land"]

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
    """Fetch ``base/relative`` into ``folder``; raises FetchError as ``download`` does."""
    name = relative.rsplit("/", 1)[-1]
    temp = folder / f"{name}.download"
    folder.mkdir(parents=True, exist_ok=True)
    if "://" in base:
        url = f"{base.rstrip('/')}/{relative}"
        expect = name.rsplit(".", 1)[-1].lower() if "." in name else "file"
        got = download(url, temp, policy, etag=etag, last_modified=last_modified, expect=expect)
    else:
        url, got = _copy_local(Path(base), relative, temp)
    if got.status != "ok" or got.sha256 is None:
        return Landed(got.status, url, etag=got.etag or etag, last_modified=last_modified)
    stem, _, suffix = name.rpartition(".")
    final = folder / f"{stem}.{got.sha256[:12]}.{suffix}"
    temp.replace(final)
    return Landed("ok", url, final, got.sha256, got.etag, got.last_modified)


def _copy_local(base: Path, relative: str, dest: Path) -> tuple[str, Downloaded]:
    """A local folder laid out like the site, or flat; ``.gz`` copies are accepted too."""
    name = relative.rsplit("/", 1)[-1]
    for candidate in (base / relative, base / name, base / f"{relative}.gz", base / f"{name}.gz"):
        if candidate.is_file():
            return str(candidate), _copy_hashing(candidate, dest)
    return str(base / relative), Downloaded(status="not_found")


def _copy_hashing(source: Path, dest: Path) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as src, dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    shutil.copystat(source, dest)
    return Downloaded(status="ok", sha256=digest.hexdigest(), size=size)
