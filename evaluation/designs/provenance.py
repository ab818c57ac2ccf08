"""Where a result came from: package version, git commit, run date, the data files' hashes and
the contracts' versions (``results.json``'s ``generated_with``)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from evaluation import __version__
from evaluation.config import PROJECT_ROOT, run_date
from evaluation.panel.build import Panel


def relative_path(path: Path) -> str:
    """``path`` relative to the project root (as given if it lies outside)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


@lru_cache(maxsize=1)
def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(panel: Panel) -> dict:
    return {
        "package": "send-evaluation",
        "version": __version__,
        "git_commit": git_commit(),
        "run_date": run_date().isoformat(),
        "data_sha256": dict(sorted(panel.source_files.items())),
        "contracts": {v.contract: contract_version(v.contract) for v in panel.validation},
    }


@lru_cache(maxsize=32)
def contract_version(name: str) -> str:
    from evaluation.contracts import load_contract

    try:
        return load_contract(name).version
    except ValueError:
        return "unknown"
