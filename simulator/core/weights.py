"""Finding pretrained weight files: explicit path, environment variable, cache, installed package, download.

Weights that cannot ship with the toolkit (DemosaicNet, SPyNet, TMRNet checkpoints, LPIPS) are
described by a :class:`WeightSpec`. :func:`resolve_weights` looks for the file in this order:

1. the path the caller gives (an error if it does not exist: a typo must not silently fall back);
2. the spec's environment variable, e.g. ``BRACKETIRE_DEMOSAICNET=/data/bayer.pth``;
3. the cache directory, ``$BRACKETIRE_CACHE`` or ``~/.cache/bracketire``;
4. a file shipped inside an installed Python package, if the spec names one;
5. a download from the spec's URLs into the cache (atomic, checked against its SHA-256), unless
   ``BRACKETIRE_OFFLINE=1`` is set.

If all fail, :class:`~simulator.core.errors.WeightsNotFoundError` says where the file was looked for and how
to get it. Callers load the file with ``torch.load(path, weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from simulator.core.errors import DataError, WeightsNotFoundError
from simulator.core.registry import Registry
from simulator.ownership import apply_umask

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: ten times the largest checkpoint the toolkit knows (TMRNet+, about 60 MB)
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class WeightSpec:
    """Where a weight file comes from.

    Attributes:
        name: short name used in messages.
        filename: file name inside the cache directory.
        env_var: environment variable that may hold a path to the file.
        sha256: accepted SHA-256 digests of downloaded files (empty: not checked).
        urls: download locations, tried in order.
        package_file: ``("package", "relative/path")`` of a copy shipped in an installed package.
        how_to_get: one sentence telling a user where to obtain the file.
        max_bytes: the largest download accepted; a larger (or endless) response is cut off and refused.
    """

    name: str
    filename: str
    env_var: str
    sha256: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    package_file: tuple[str, str] | None = None
    how_to_get: str = ""
    max_bytes: int = DEFAULT_MAX_BYTES


WEIGHT_FILES = Registry("weight file", {"demosaicnet": "simulator.demosaic.demosaicnet:DEMOSAICNET_WEIGHTS"})
"""Every weight file the toolkit knows, name -> :class:`WeightSpec`; ``models`` and ``benchmark`` add theirs."""


def cache_dir() -> Path:
    """The weight cache: ``$BRACKETIRE_CACHE`` or ``~/.cache/bracketire``."""
    return Path(os.environ.get("BRACKETIRE_CACHE") or Path.home() / ".cache" / "bracketire")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_copy(spec: WeightSpec) -> Path | None:
    if spec.package_file is None:
        return None
    package, relative = spec.package_file
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def download(spec: WeightSpec, url: str, target: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` atomically, checking its size and the spec's SHA-256 if it has any.

    The body is streamed in 1 MiB chunks into a temporary file beside ``target`` while being hashed; more than
    ``spec.max_bytes`` (announced by ``Content-Length`` or actually sent) stops the transfer, and so does a body
    shorter than its ``Content-Length``. Only a complete, checked file is flushed to disk and renamed to ``target``.

    Raises:
        DataError: too large, truncated, or a checksum the spec does not accept (nothing is kept).
        OSError: the download itself failed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            announced = _announced_length(response)
            if announced is not None and announced > spec.max_bytes:
                raise DataError(f"{url}: {spec.name} weights are {announced} bytes; expected at most {spec.max_bytes}")
            digest, size = hashlib.sha256(), 0
            for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                size += len(block)
                if size > spec.max_bytes:
                    raise DataError(f"{url}: {spec.name} weights exceed {spec.max_bytes} bytes; download stopped")
                digest.update(block)
                out.write(block)
            if announced is not None and size != announced:
                raise DataError(f"{url}: {spec.name} download truncated at {size} of {announced} bytes")
            if spec.sha256 and digest.hexdigest() not in spec.sha256:
                raise DataError(f"{url}: downloaded {spec.name} weights have SHA-256 {digest.hexdigest()}; "
                                f"expected one of {list(spec.sha256)}")
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the name says the file is complete
        apply_umask(tmp)  # mkstemp makes it 0600; a shared cache follows the user's umask
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _announced_length(response: object) -> int | None:
    """The response's ``Content-Length`` as an int, or None when absent or not a number."""
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def resolve_weights(
    spec: WeightSpec, path: str | os.PathLike[str] | None = None, *, allow_download: bool = True
) -> Path:
    """Locate (or download) the weight file described by ``spec``.

    Args:
        spec: what to look for.
        path: an explicit file path; if given it must exist.
        allow_download: try the spec's URLs as a last resort (also off when ``BRACKETIRE_OFFLINE=1``).

    Returns:
        Path to an existing file.

    Raises:
        WeightsNotFoundError: naming every place looked in and how to get the file.
    """
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise WeightsNotFoundError(f"{explicit}: {spec.name} weight file not found. {spec.how_to_get}")
        return explicit
    env_value = os.environ.get(spec.env_var)
    if env_value:
        from_env = Path(env_value).expanduser()
        if not from_env.is_file():
            raise WeightsNotFoundError(f"{from_env} (from ${spec.env_var}): {spec.name} weight file not found. {spec.how_to_get}")
        return from_env
    cached = cache_dir() / spec.filename
    if cached.is_file():
        return cached
    shipped = _package_copy(spec)
    if shipped is not None:
        return shipped
    errors = []
    if os.environ.get("BRACKETIRE_OFFLINE", "") not in ("", "0"):
        errors.append("downloads are off (BRACKETIRE_OFFLINE is set)")
    elif allow_download:
        for url in spec.urls:
            try:
                return download(spec, url, cached)
            except (OSError, DataError) as err:
                errors.append(f"{url}: {err}")
    looked = [f"${spec.env_var}", str(cached)]
    if spec.package_file:
        looked.append(f"the installed '{spec.package_file[0]}' package")
    tried = f" Download failed: {'; '.join(errors)}." if errors else ""
    raise WeightsNotFoundError(
        f"{spec.name} weights not found (looked in {', '.join(looked)}).{tried} {spec.how_to_get}"
    )


