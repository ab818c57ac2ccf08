"""Project-wide settings: where the project lives, its data and cache, YAML loading and slugs.

Everything here is the bottom layer: it imports nothing from the rest of ``evaluation``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
# the one on-disk cache (git-ignored; `make clean` clears it); SEND_EVALUATION_CACHE moves it
# (a benchmark's cold start, a read-only checkout's scratch space)
CACHE_DIR = Path(os.environ.get("SEND_EVALUATION_CACHE") or PROJECT_ROOT / ".cache")

# libyaml's parser when PyYAML was built with it (the wheels are): the same safe subset of
# YAML, parsed about ten times faster than the pure-Python loader (the plan is read per report).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(source):
    """``yaml.safe_load`` with libyaml's parser where available (text or an open file)."""
    return yaml.load(source, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


def normalise_name(name: str) -> str:
    """Casefold, unify '&'/'and', strip accents, punctuation spacing and repeated blanks."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = text.replace("&", " and ").casefold()
    text = re.sub(r"[^a-z0-9,]+", " ", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    return re.sub(r"\s+", " ", text).strip()


def slugify(name: str) -> str:
    """URL- and path-safe slug of an LA name: 'Telford and Wrekin' -> 'telford-and-wrekin'."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = text.replace("&", " and ").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def run_date() -> dt.date:
    """The date a report is produced: today, or the UTC date of ``SOURCE_DATE_EPOCH`` (seconds
    since 1970) when that is set, the reproducible-builds convention, so that runs on
    different days can give byte-identical reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.date.today()
