"""The one on-disk cache: content-addressed pickles in ``.cache/`` (git-ignored).

Every entry's file name is a hash of everything its value depends on (the caller's key and the
source files that compute it), so a change to the data, the contracts or the code gives a new
name and an old result is never reused.  A missing, damaged or unwritable file is not an error:
the work is redone (a read-only checkout still works, just without the cache).

* :func:`cached` -- ``cached("panel", key, build)``: load the entry or build and store it;
* :class:`DiskCache` -- a dict whose entries also live on disk (placebo and prefit fits shared
  by every area report, in this process and across runs);
* :func:`load` / :func:`store` -- entries under a key the caller has already made a content
  hash of (:func:`digest`, :func:`frame_digest`, :func:`files_digest`): the per-area
  estimates and the pooled effects that incremental ``make reports`` reuses;
* :func:`write_pickle` / :func:`read_pickle` -- the atomic write and the checked read all use,
  also used to hand a built panel to the report kernels of one run;
* :func:`locked` -- an exclusive lock on a file (two runs publishing the same page).

Concurrent runs are safe: every write goes to a temporary file with a name of its own and is
renamed into place, so a reader sees a whole entry or none, never a half-written one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from evaluation.config import CACHE_DIR, PROJECT_ROOT

T = TypeVar("T")
MISSING = object()  # what :func:`load` returns for an entry that is not there (or damaged)


def atomic_write(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file of this writer's
    own, then a rename: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def write_pickle(value, path: Path | str) -> Path:
    """Write ``value`` to ``path`` atomically (pickled first: a value that cannot be pickled
    leaves nothing behind)."""
    return atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def read_pickle(path: Path | str, expected: type | None = None):
    """The object pickled at ``path`` (written by this toolkit).  Raises ``TypeError`` if it is
    not an ``expected`` instance."""
    with open(path, "rb") as fh:
        value = pickle.load(fh)  # noqa: S301 - written by this toolkit, keyed by hash
    if expected is not None and not isinstance(value, expected):
        raise TypeError(f"{path} does not hold a {expected.__name__}")
    return value


def source_digest(files: Iterable[Path]) -> bytes:
    """The bytes of the source files a cached value depends on (part of every key)."""
    return b"".join(Path(p).read_bytes() for p in files)


def entry_path(namespace: str, key, sources: Iterable[Path] = (), cache_dir: Path | None = None):
    """Where the entry ``key`` of ``namespace`` lives: its name hashes the key and the sources."""
    digest = hashlib.sha256(repr(key).encode() + source_digest(sources)).hexdigest()[:32]
    return Path(cache_dir or CACHE_DIR) / f"{namespace}-{digest}.pkl"


def cached(
    namespace: str,
    key,
    build: Callable[[], T],
    expected: type | None = None,
    sources: Iterable[Path] = (),
) -> T:
    """Load the entry ``key`` of ``namespace``, or ``build()`` it and store it."""
    path = entry_path(namespace, key, sources)
    try:
        return read_pickle(path, expected)
    except Exception:  # noqa: BLE001 - missing or damaged: rebuilt
        pass
    value = build()
    with contextlib.suppress(OSError):
        write_pickle(value, path)
    return value


def model_sources() -> list[Path]:
    """The estimator code (``evaluation/models/``) a cached fit depends on."""
    return sorted((PROJECT_ROOT / "evaluation" / "models").glob("*.py"))


class DiskCache(dict):
    """A dict that also keeps its entries in the cache, one pickle per key.

    Keys are hashed together with the estimator code (:func:`model_sources`), so a change to
    the algorithm never reuses an old result; the synthetic-DiD keys already include a digest of
    the donors' data."""

    def __init__(self, namespace: str = "sdid-placebos"):
        super().__init__()
        self.namespace = namespace

    def _path(self, key) -> Path:
        return entry_path(self.namespace, key, model_sources())

    def __contains__(self, key):
        if dict.__contains__(self, key):
            return True
        try:
            dict.__setitem__(self, key, read_pickle(self._path(key)))
            return True
        except Exception:  # noqa: BLE001 - missing or damaged: recompute
            return False

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        with contextlib.suppress(OSError):
            write_pickle(value, self._path(key))


def digest(*parts) -> str:
    """A sha256 (hex) of ``parts`` (strings, bytes, numbers, tuples of them: their ``repr``)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def frame_digest(frame) -> str:
    """A content hash of a DataFrame: its column names, dtypes and every cell, in row order
    (the index is left out)."""
    import pandas as pd

    cells = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    return digest(tuple(frame.columns), tuple(str(t) for t in frame.dtypes), cells)


def files_digest(files: Iterable[Path]) -> str:
    """A content hash of source files (their paths relative to the project, and their bytes)."""
    parts = []
    for path in sorted(Path(p) for p in files):
        name = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
        parts += [str(name), path.read_bytes()]
    return digest(*parts)


def load(namespace: str, key: str, expected: type | None = None, cache_dir: Path | None = None):
    """The entry ``key`` of ``namespace``, or :data:`MISSING`."""
    try:
        return read_pickle(entry_path(namespace, key, cache_dir=cache_dir), expected)
    except Exception:  # noqa: BLE001 - missing or damaged: the caller rebuilds it
        return MISSING


def store(namespace: str, key: str, value, cache_dir: Path | None = None) -> None:
    """Keep ``value`` as the entry ``key`` of ``namespace`` (silently not, if unwritable or
    not picklable, e.g. a result holding a researcher's local function)."""
    with contextlib.suppress(OSError, pickle.PicklingError, AttributeError, TypeError):
        write_pickle(value, entry_path(namespace, key, cache_dir=cache_dir))


@contextlib.contextmanager
def locked(path: Path | str):
    """Hold an exclusive lock on ``path`` (created if absent) for the ``with`` block; on systems
    without ``fcntl`` the block runs unlocked (each file is still written atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
