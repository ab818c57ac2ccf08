"""Which contract a file is meant for, from its columns, and why not when none fits.

A contract *fits exactly* when the file has all its ``match`` columns (its signature) and all
its required columns.  Contracts are ranked by how close they are to the file: the number of
the file's columns the contract declares, then exact fit before near miss.  The file is
validated against the closest contract only if that contract fits exactly:

* the closest fits exactly, and no other exact fit is as close: it is the file's contract;
* the closest does not fit exactly: the file is refused, naming that contract and the columns
  it lacks (never validated silently against a less close contract it happens to satisfy);
* two exact fits are equally close: the file is refused, naming both, with ``--contract`` as
  the fix.

The refusal is a :class:`ContractInferenceError` (a :class:`ContractError`: exit code 2 in
``python -m evaluation validate``) carrying the closest contract and its missing columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.contracts.spec import Contract, ContractError, list_contracts, load_contract

SHOWN = 8  # at most this many missing columns named in a message
INTERNAL = {"source_row", "_extra_cells"}  # the readers' own columns, not the file's


class ContractInferenceError(ContractError):
    """No contract fits a file's columns exactly, or two fit equally well."""

    def __init__(self, message: str, closest: list[str], missing: list[str]):
        super().__init__(message)
        self.closest = closest  # the closest contract(s), best first
        self.missing = missing  # columns the (first) closest contract needs and the file lacks


@dataclass(frozen=True)
class Candidate:
    contract: Contract
    declared: int  # the file's columns this contract declares
    required: int  # this contract's required columns present
    missing: tuple[str, ...]  # match or required columns absent from the file

    @property
    def exact(self) -> bool:
        return not self.missing

    @property
    def rank(self) -> tuple:
        """Closeness: contracts with the same rank fit the file equally well."""
        return (self.declared, self.exact)

    @property
    def name(self) -> str:
        return self.contract.name


def candidates(columns: list[str]) -> list[Candidate]:
    """Every contract that can be inferred (one with ``match`` columns) sharing a column with
    the file, closest first (ties by the required columns present, then by name)."""
    cols = set(columns) - INTERNAL
    out = []
    for name in list_contracts():
        c = load_contract(name)
        if not c.match:
            continue
        declared = len(cols & set(c.columns))
        if not declared:
            continue
        needed = list(dict.fromkeys([*c.match, *c.required]))
        missing = tuple(col for col in needed if col not in cols)
        out.append(Candidate(c, declared, len(cols & set(c.required)), missing))
    return sorted(out, key=lambda k: (-k.declared, not k.exact, -k.required, k.name))


def _listed(names) -> str:
    names = list(names)
    more = len(names) - SHOWN
    text = ", ".join(names[:SHOWN])
    return text + (f" and {more} more" if more > 0 else "")


def infer_contract(columns: list[str], file: str | None = None) -> Contract:
    """The contract the file's columns fit exactly and most closely; otherwise
    :class:`ContractInferenceError` saying which contract is closest and what it lacks, or
    which contracts tie."""
    where = f"{file}: " if file else ""
    columns = [c for c in columns if c not in INTERNAL]
    ranked = candidates(columns)
    if not ranked:
        tried = ", ".join(n for n in list_contracts() if load_contract(n).match)
        raise ContractInferenceError(
            f"{where}no contract fits these columns ({_listed(columns) or 'none'}); tried "
            f"{tried}. Name one with --contract.",
            [],
            [],
        )
    best = ranked[0]
    tied = [k for k in ranked if k.rank == best.rank]
    if best.exact and len(tied) == 1:
        return best.contract
    if best.exact:
        names = [k.name for k in tied]
        raise ContractInferenceError(
            f"{where}the columns fit contracts {' and '.join(names)} equally well, so which "
            f"one applies cannot be decided; name it with --contract {names[0]} (or "
            f"{', '.join(names[1:])}).",
            names,
            [],
        )
    also = [k.name for k in tied[1:]]
    raise ContractInferenceError(
        f"{where}no contract fits exactly; the closest is {best.name} ({best.contract.title})"
        + (f", level with {', '.join(also)}" if also else "")
        + f", and the file lacks its column(s) {_listed(best.missing)}. Add the column(s), "
        f"or name the contract the file is meant for with --contract.",
        [best.name, *also],
        list(best.missing),
    )
