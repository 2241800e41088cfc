"""Finding, verifying and downloading dataset files.

Every loader in :mod:`course.datasets` describes its files as :class:`DataFile` records and calls
:func:`fetch`, which looks in this order:

1. the offline mirror in ``$COURSE_DATA_DIR/<dataset>/`` (the layout of ``shared/data``); a file
   stored there in parts (``<name>.part00``, ``.part01``, ...) is joined into the cache;
2. extra folders given by the loader (for example a Debian data package);
3. the local cache, ``$COURSE_CACHE_DIR`` or ``~/.cache/course/datasets``, ``<dataset>/<name>``;
4. a download from the real upstream (each URL in turn), with a progress bar.

Every file is checked against its recorded sha256. Downloads and joins are written to a temporary
file and renamed into place only once the checksum matches, so an interrupted or corrupt download
never poisons the cache. A cached file that fails its checksum is moved aside to ``*.corrupt``
(kept for inspection, never used) and fetched again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR_VARIABLE = "COURSE_DATA_DIR"
CACHE_DIR_VARIABLE = "COURSE_CACHE_DIR"
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """No verified copy of a dataset file could be found or downloaded."""


class ChecksumError(ValueError):
    """A file's content does not match its recorded sha256."""


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: where it comes from and what its bytes must hash to."""

    name: str
    sha256: str
    urls: tuple[str, ...]
    # Checksums of known repackagings with the same content (e.g. Debian's re-gzipped copies).
    also_accept: tuple[str, ...] = field(default=())
    # True when each URL is a zip archive holding this file under ``name`` (e.g. glove.6B.100d.txt in
    # glove.6B.zip): the archive is downloaded to a temporary file and only the member is kept.
    in_zip: bool = False

    def accepts(self, digest: str) -> bool:
        return digest == self.sha256 or digest in self.also_accept


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_dir() -> Path | None:
    value = os.environ.get(DATA_DIR_VARIABLE)
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    value = os.environ.get(CACHE_DIR_VARIABLE)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "course" / "datasets"


def fetch(dataset: str, file: DataFile, extra_dirs: tuple[str | Path, ...] = (), download: bool = True) -> Path:
    """Return the path of a verified local copy of ``file``, fetching it if needed.

    With ``download=False`` only the mirror, ``extra_dirs`` and the cache are searched.
    """
    cached = cache_dir() / dataset / file.name
    mirror = data_dir() / dataset if data_dir() else None
    notes: list[str] = []

    for folder in ([mirror] if mirror else []) + [Path(d) for d in extra_dirs]:
        candidate = folder / file.name
        if candidate.is_file():
            if file.accepts(sha256_of(candidate)):
                return candidate
            notes.append(f"{candidate} exists but fails its sha256 check (ignored)")
        parts = sorted(folder.glob(file.name + ".part[0-9]*"))
        if parts and not _verified(cached, file, notes):
            try:
                _write_verified(cached, file, lambda out: _join(parts, out))
                return cached
            except ChecksumError as exc:
                notes.append(f"{folder}/{file.name}.part*: {exc}")

    if _verified(cached, file, notes):
        return cached

    fetch_one = _download_zip_member if file.in_zip else _download
    for url in file.urls if download else ():
        try:
            _write_verified(cached, file, lambda out, url=url: fetch_one(url, out, file.name))
            return cached
        except (OSError, ChecksumError) as exc:
            notes.append(f"download from {url} failed: {exc}")

    raise DatasetNotFoundError(_missing_message(dataset, file, mirror, cached, notes))


def _verified(path: Path, file: DataFile, notes: list[str]) -> bool:
    if not path.is_file():
        return False
    if file.accepts(sha256_of(path)):
        return True
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    notes.append(f"cached copy {path} failed its sha256 check; moved aside to {aside}")
    warnings.warn(f"{path} failed its sha256 check and was moved to {aside}; fetching it again.", stacklevel=3)
    return False


def _write_verified(target: Path, file: DataFile, produce) -> None:
    """Let ``produce`` write into a temporary file, verify it, then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{file.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(temporary)
    try:
        with open(temporary, "wb") as out:
            produce(out)
        digest = sha256_of(temporary)
        if not file.accepts(digest):
            raise ChecksumError(f"sha256 is {digest}, expected {file.sha256}")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _join(parts: list[Path], out) -> None:
    for part in parts:
        with open(part, "rb") as handle:
            shutil.copyfileobj(handle, out, _CHUNK)


def _download(url: str, out, label: str) -> None:
    import requests
    from tqdm.auto import tqdm

    with requests.get(url, stream=True, timeout=(10, 60)) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length", 0)) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {label}") as bar:
            for chunk in response.iter_content(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def _download_zip_member(url: str, out, member: str) -> None:
    """Download the zip archive at ``url`` to a temporary file and copy its ``member`` into ``out``."""
    import zipfile

    handle, archive = tempfile.mkstemp(dir=Path(out.name).parent, prefix=".archive.", suffix=".zip.tmp")
    os.close(handle)
    archive = Path(archive)
    try:
        with open(archive, "wb") as raw:
            _download(url, raw, Path(url).name)
        with zipfile.ZipFile(archive) as bundle:
            if member not in bundle.namelist():
                raise ChecksumError(f"{url} has no member {member!r}")
            with bundle.open(member) as source:
                shutil.copyfileobj(source, out, _CHUNK)
    except zipfile.BadZipFile as exc:
        raise ChecksumError(f"{url} is not a valid zip archive: {exc}") from exc
    finally:
        archive.unlink(missing_ok=True)


def _missing_message(dataset: str, file: DataFile, mirror: Path | None, cached: Path, notes: list[str]) -> str:
    where = (
        f"${DATA_DIR_VARIABLE}={mirror.parent} (looked in {mirror})"
        if mirror
        else f"${DATA_DIR_VARIABLE} is not set"
    )
    if file.urls:
        how = f"download {file.urls[0]} and extract '{file.name}' from it" if file.in_zip else f"download {file.urls[0]}"
        fix = f"or {how} to {cached} (sha256 {file.sha256}), or connect to the internet and run again."
    else:  # e.g. the chunks of the CIFAR-10 subset
        fix = "this file exists only in the course mirror."
    lines = [
        f"Dataset file '{file.name}' of '{dataset}' is not available.",
        f"  offline mirror: {where}",
        f"  local cache:    {cached}",
        f"  upstream:       {', '.join(file.urls) or 'none (mirror-only file)'}",
        *(f"  - {note}" for note in notes),
        "To fix: point the environment variable COURSE_DATA_DIR at a copy of the course data mirror "
        f"(a folder with '{dataset}/{file.name}'), {fix}",
    ]
    return "\n".join(lines)
