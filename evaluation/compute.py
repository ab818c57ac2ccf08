"""Where the heavy work runs: this machine's processes (the default) or a Dask cluster.

:func:`runner` gives one of two runners with the same small interface, ``submit(fn, *args)``
returning a future with ``.result()``, ``as_completed(futures)``, ``share(value)`` (a large
argument sent to the workers once) and ``workers`` (how many tasks run at once):

* :class:`LocalRunner`: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``jobs``
  processes (default: the CPU cores).  Dask is not imported.
* :class:`DaskRunner`: a ``distributed.Client`` connected to an existing scheduler, given as
  ``--scheduler tcp://host:8786``, ``make reports SCHEDULER=...`` or the
  ``DASK_SCHEDULER_ADDRESS`` environment variable.  Tasks are retried (``retries``) if they
  raise, and the scheduler re-runs a task whose worker was lost.  The workers must run the same
  version of this project with its data (the same checkout on a shared file system, or the
  same container image).

:func:`map_ordered` runs one function over many argument tuples on a runner and returns the
results in order: the Monte Carlo checks (``tests/test_monte_carlo.py``, one seeded draw per
task) use it, so ``DASK_SCHEDULER_ADDRESS=tcp://host:8786 make test-slow`` spreads them over a
cluster.

Functions sent to a runner must be importable module-level functions whose result depends on
their arguments only (seeds included), so a run gives the same numbers whichever runner and
whichever worker ran each task.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import as_completed as _local_completed
from contextlib import contextmanager

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class SchedulerError(RuntimeError):
    """The Dask scheduler could not be reached (or Dask is not installed)."""


def scheduler_address(given: str | None = None) -> str | None:
    """The Dask scheduler to use: ``given``, else ``$DASK_SCHEDULER_ADDRESS``, else None."""
    return given or os.environ.get(SCHEDULER_ENV) or None


class LocalRunner:
    """Tasks in a pool of this machine's processes."""

    name = "local processes"
    local = True  # workers share this machine's files (a path is as good as the value)

    def __init__(self, jobs: int | None = None):
        self.workers = max(1, jobs or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # started on first use: a run with nothing to do starts none
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self._pool

    def submit(self, fn, *args) -> Future:
        return self._executor().submit(fn, *args)

    def share(self, value):
        return value

    def as_completed(self, futures):
        return _local_completed(futures)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner:
    """Tasks on an existing Dask cluster."""

    local = False  # workers may be elsewhere: large values are sent, not paths

    def __init__(self, address: str, retries: int = 2, timeout: float = 30):
        try:
            from distributed import Client
            from distributed.comm.addressing import parse_address, parse_host_port
        except ImportError:
            raise SchedulerError(
                "a Dask scheduler was given but Dask is not installed: "
                "pip install 'send-evaluation[dask]' (or distributed)"
            ) from None
        try:  # checked first: a Client made from a malformed address hangs as it is collected
            parse_host_port(parse_address(address)[1])
        except ValueError as exc:
            raise SchedulerError(
                f"not a Dask scheduler address: {address!r} ({exc}); give e.g. tcp://host:8786"
            ) from None
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.name = f"Dask at {address}"
        self.retries = retries
        self.workers = max(1, sum(self._client.nthreads().values()))

    def submit(self, fn, *args):
        return self._client.submit(fn, *args, pure=False, retries=self.retries)

    def share(self, value):
        return self._client.scatter(value, broadcast=True, hash=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures, loop=self._client.loop)

    def close(self) -> None:
        self._client.close()


@contextmanager
def runner(scheduler: str | None = None, jobs: int | None = None, retries: int = 2):
    """A :class:`DaskRunner` if a scheduler address is given (or in the environment), else a
    :class:`LocalRunner` of ``jobs`` processes; closed at the end of the ``with`` block."""
    address = scheduler_address(scheduler)
    run = DaskRunner(address, retries=retries) if address else LocalRunner(jobs)
    try:
        yield run
    finally:
        run.close()


def map_ordered(fn, arg_tuples, scheduler: str | None = None, jobs: int | None = None) -> list:
    """``[fn(*args) for args in arg_tuples]``, computed on :func:`runner` (a Dask cluster if
    one is given or in the environment, else ``jobs`` local processes)."""
    with runner(scheduler, jobs) as run:
        futures = [run.submit(fn, *args) for args in arg_tuples]
        return [f.result() for f in futures]
