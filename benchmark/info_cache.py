"""``info`` without importing torch: the registry listing cached per version of the toolkit's source files.

Building the listing imports every registry (torch, the models, the metrics) and builds every model on the
``meta`` device to count its parameters: seconds of work whose answer only changes when the toolkit's files
do. The listing is stored in ``$BRACKETIRE_CACHE/info_registries-<where>.json`` (one file per installation,
so two checkouts do not take turns) with a key made of the version, the Python executable and the size and
modification time of every source file of the four packages; any change makes a new listing. Where each weight file is found is never cached: it is looked up on every call (from
the cached :class:`~simulator.core.weights.WeightSpec` fields, no torch needed). Plugins (``--plugin``) may
register anything, so a listing with plugins is always built live (:func:`registry_listing` with ``live``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from simulator import __version__
from simulator.core.errors import BracketIREError, WeightsNotFoundError
from simulator.core.weights import WeightSpec, cache_dir, resolve_weights

CACHE_FILE = "info_registries-{where}.json"  # where: a hash of the installation's folder and interpreter
CACHE_FORMAT = 1  # bumped when the file's structure changes
PACKAGES = ("simulator", "models", "benchmark", "leaderboards")
_SOURCE_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".csv"}
Listing = dict[str, list[tuple[str, str]]]  # title -> [(name, summary)]


def cache_file() -> Path:
    """This installation's listing file in the cache folder."""
    where = f"{Path(__file__).resolve().parent.parent}\0{sys.executable}"
    return cache_dir() / CACHE_FILE.format(where=hashlib.sha256(where.encode()).hexdigest()[:12])


def weight_status(spec: WeightSpec) -> str:
    """Where a weight file was found, or that it is missing (never downloads)."""
    try:
        return f"{spec.name}: found {resolve_weights(spec, allow_download=False)}"
    except WeightsNotFoundError:
        return f"{spec.name}: missing (set ${spec.env_var}" + ("; downloaded on first use when online)" if spec.urls else ")")


def source_fingerprint(roots: Iterable[Path] | None = None) -> str:
    """Hex SHA-256 over the version, the interpreter and (path, size, mtime) of every source file under ``roots``.

    ``roots`` defaults to the toolkit's four package folders next to this file.
    """
    base = Path(__file__).resolve().parent.parent
    folders = [Path(r) for r in roots] if roots is not None else [base / name for name in PACKAGES]
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0{sys.executable}\0".encode())
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _spec_fields(spec: WeightSpec) -> dict[str, object]:
    return dataclasses.asdict(spec)


def _spec_from(fields: dict[str, object]) -> WeightSpec:
    package = fields.get("package_file")
    return WeightSpec(**{**fields, "sha256": tuple(fields.get("sha256") or ()), "urls": tuple(fields.get("urls") or ()),
                         "package_file": tuple(package) if package else None})  # type: ignore[arg-type]


def _read(path: Path, key: str) -> tuple[Listing, dict[str, WeightSpec]] | None:
    """The cached listing if ``path`` holds one under ``key``; None for a missing, stale or foreign file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        listing = {title: [(str(n), str(s)) for n, s in entries] for title, entries in data["registries"].items()}
        return listing, {name: _spec_from(fields) for name, fields in data["weights"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _ours_or_absent(path: Path) -> bool:
    """Whether ``path`` may be (re)written: absent, or a listing this module wrote (never a foreign file)."""
    try:
        return not path.exists() or (path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("format") == CACHE_FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def _write(path: Path, key: str, listing: Listing, weights: dict[str, WeightSpec]) -> None:
    """Store the listing atomically; a cache that cannot be written is simply not used (info still works)."""
    from simulator.core.files import write_atomic

    if not _ours_or_absent(path):
        return
    document = {"format": CACHE_FORMAT, "key": key, "registries": listing,
                "weights": {name: _spec_fields(spec) for name, spec in weights.items()}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(document, indent=1) + "\n")
    except (OSError, BracketIREError):
        pass


def registry_listing(live: bool = False) -> Listing:
    """Every registry, title -> ``[(name, summary)]``, the ``weights`` section last, looked up now.

    Args:
        live: build the listing in this process (after plugins registered their entries) and do not cache it.
    """
    path = cache_file()
    key = source_fingerprint()
    cached = None if live else _read(path, key)
    if cached is None:
        from benchmark.info import toolkit_listing

        cached = toolkit_listing()
        if not live:
            _write(path, key, *cached)
    listing, weights = cached
    return {**listing, "weights": [(name, weight_status(spec)) for name, spec in weights.items()]}
