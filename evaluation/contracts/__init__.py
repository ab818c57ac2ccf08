"""Data contracts: validate every input against ``data_contracts/*.yaml``, quarantine bad rows,
lose nothing.

A contract (:mod:`~evaluation.contracts.spec`) is readable YAML that doubles as the data
dictionary (title, description, type, unit, allowed values, missing-value symbols with their
meanings, keys).  Validation (:mod:`~evaluation.contracts.validate`) flows

    read -> parse -> column checks -> rules -> quarantine

and each step produces :class:`~evaluation.findings.Finding` records that name file, line,
column, rule and severity:

0. **read** (:mod:`evaluation.io.readers`, :mod:`evaluation.io.tribunal`): the file as a text
   frame with each row's ``source_row``; without a named contract, the one its columns fit
   (:mod:`~evaluation.contracts.inference`: the closest, and only if it fits exactly); a file that looks as if it carries personal data
   (:mod:`~evaluation.contracts.privacy`) or lacks a required column is refused whole;
1. **parse** (:mod:`~evaluation.contracts.parse`): each cell is a value of the column's type or
   one of *this source's* symbols; columns whose values repeat are hash-encoded once;
2. **column checks** (:mod:`~evaluation.contracts.schema`) with pandera (types, ranges, allowed
   values, patterns, required values), built from the YAML and run on the distinct values of
   encoded columns, row by row on free text; findings are the same, in the same order, either
   way;
3. **rules beyond types** (:mod:`~evaluation.contracts.rules`): key values present (not blank,
   not a missing-value symbol), unique keys and duplicate submissions, time_period width against time_identifier and one family per file, numerator
   <= denominator, published percentages against their recomputation (0.1 points), (name, code)
   pairs against the LA lookup, case chronology, and gaps in a return's periods;
4. **quarantine** (:mod:`~evaluation.contracts.quarantine`): rows with an error are quarantined
   with their reasons; ``rows_in == rows_accepted + rows_quarantined`` always holds and is
   reported.

This module re-exports the names used outside the package.
"""

from evaluation.contracts.inference import ContractInferenceError, infer_contract
from evaluation.contracts.parse import Encoded, parse_frame, parse_iso_dates
from evaluation.contracts.schema import column_checks
from evaluation.contracts.spec import (
    MONTHS,
    PARALLEL_ROWS,
    ContractError,
    list_contracts,
    load_contract,
)
from evaluation.contracts.validate import ValidationResult, validate_file, validate_frame

__all__ = [
    "MONTHS",
    "PARALLEL_ROWS",
    "ContractError",
    "ContractInferenceError",
    "Encoded",
    "ValidationResult",
    "column_checks",
    "infer_contract",
    "list_contracts",
    "load_contract",
    "parse_frame",
    "parse_iso_dates",
    "validate_file",
    "validate_frame",
]
