"""Multi-way fixed effects: least squares on categorical dummies without building them.

``FixedEffects(codes, weights)`` represents the design ``D = [D_1, ..., D_K]`` (one block of
indicator columns per categorical variable, no intercept) and solves its weighted normal equations
``D' W D c = r`` for any right-hand side.  That gives

* ``fit(Y)`` / ``predict``: the fixed-effect coefficients of a regression of ``Y`` on the dummies
  (and predictions for rows that were not in the fitting sample: weight 0 rows), and
* ``absorb(Y)``: the within transformation ``Y - D (D'WD)^- D'W Y`` (the residual maker).

Solvers (all exact up to floating point unless stated):

* one factor: group means;
* two factors where the smaller has at most ``max_dense`` levels (panels: unit x period): the
  larger factor is eliminated in closed form and the Schur complement ``S = D_B'W D_B -
  D_B'W D_A (D_A'W D_A)^-1 D_A'W D_B`` (levels of B squared) is pseudo-inverted once, so every
  further right-hand side costs two sparse products.  Works for unbalanced panels; ``S`` is
  singular by one per connected set, the pseudo-inverse picks one normalisation (fitted values
  and residuals do not depend on it);
* otherwise: block Gauss-Seidel (alternating projections on the coefficients) to a tolerance.

Rows with weight 0 do not enter the fit; levels seen only in such rows get coefficient 0 and are
listed in ``empty_levels``.

Two fixed-effect solvers live here, and both are kept on purpose:

* :class:`FixedEffects` / :func:`absorb` (above), used by the staggered-adoption estimators
  (imputation DiD needs the coefficients and predictions for rows outside the fit, which
  :func:`demean` does not give);
* :func:`demean`: alternating projections to a tolerance (exact in one sweep for one factor),
  used by two-way fixed effects (:func:`~evaluation.models.twfe.fit_ols_fe`), the DiD
  assignment loop and the wild cluster bootstrap.

They agree to rounding error but not to the last bit (on ``tests/data/mpdta.csv`` to about
1e-14, on the shipped panel's rates to about 4e-12 in outcome units), so replacing one by the
other would change published numbers in their last digits; each caller keeps the solver its
results were produced with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp


def factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..L-1 and the sorted unique levels of a column (no missing values allowed)."""
    codes, levels = pd.factorize(pd.Series(values), sort=True)
    if (codes < 0).any():
        raise ValueError("fixed-effect or cluster column has missing values")
    return codes.astype(np.int64), np.asarray(levels)


class FixedEffects:
    """Weighted least squares on K sets of dummies (see module docstring)."""

    def __init__(
        self,
        codes: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        *,
        max_dense: int = 5000,
        tol: float = 1e-13,
        maxiter: int = 100_000,
    ):
        self.codes = [np.asarray(c, dtype=np.int64) for c in codes]
        if not self.codes:
            raise ValueError("at least one fixed effect is needed")
        self.n = len(self.codes[0])
        self.sizes = [int(c.max()) + 1 if len(c) else 0 for c in self.codes]
        self.w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float)
        if self.w.shape != (self.n,) or (self.w < 0).any():
            raise ValueError("weights must be non-negative, one per row")
        self.tol, self.maxiter = tol, maxiter
        rows = np.arange(self.n)
        self.dummies = [
            sp.csr_matrix((np.ones(self.n), (rows, c)), shape=(self.n, s))
            for c, s in zip(self.codes, self.sizes, strict=True)
        ]
        self.counts = [
            np.bincount(c, weights=self.w, minlength=s)
            for c, s in zip(self.codes, self.sizes, strict=True)
        ]
        self.empty_levels = [np.flatnonzero(cnt <= 0) for cnt in self.counts]
        self._inv_counts = [
            np.where(cnt > 0, 1.0 / np.where(cnt > 0, cnt, 1.0), 0.0) for cnt in self.counts
        ]
        k = len(self.codes)
        if k == 1:
            self.method = "group means"
        elif k == 2 and min(self.sizes) <= max_dense:
            self.method = "two-way exact (Schur complement)"
            self._setup_schur()
        else:
            self.method = "block Gauss-Seidel"

    # -- normal equations ---------------------------------------------------------------------
    def rhs(self, Y: np.ndarray) -> list[np.ndarray]:
        """``D_k' W Y`` for every factor (Y: n or n x m)."""
        Y2 = np.asarray(Y, dtype=float).reshape(self.n, -1)
        WY = Y2 * self.w[:, None]
        return [np.asarray(d.T @ WY) for d in self.dummies]

    def _setup_schur(self):
        big = int(np.argmax(self.sizes))
        self._a, self._b = big, 1 - big
        da, db = self.dummies[self._a], self.dummies[self._b]
        # N = D_A' W D_B (sparse, levels_A x levels_B)
        self._N = (da.multiply(self.w[:, None])).T.tocsr() @ db
        inv_a = self._inv_counts[self._a]
        s = np.diag(self.counts[self._b]) - np.asarray(
            (sp.csr_matrix(self._N.T.multiply(inv_a[None, :])) @ self._N).toarray()
        )
        s = (s + s.T) / 2
        vals, vecs = np.linalg.eigh(s)
        cut = max(vals.max(), 1.0) * 1e-10 if len(vals) else 0.0
        inv = np.where(vals > cut, 1.0 / np.where(vals > cut, vals, 1.0), 0.0)
        self._s_pinv = (vecs * inv) @ vecs.T

    def solve(self, rhs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """A solution ``c`` (list of per-factor arrays) of ``D'WD c = rhs`` (rhs from ``rhs()`` or any)."""
        r = [
            np.asarray(x, dtype=float).reshape(s, -1) for x, s in zip(rhs, self.sizes, strict=True)
        ]
        if len(r) == 1:
            return [r[0] * self._inv_counts[0][:, None]]
        if self.method.startswith("two-way"):
            a, b = self._a, self._b
            inv_a = self._inv_counts[a][:, None]
            ra_scaled = r[a] * inv_a
            beta = self._s_pinv @ (r[b] - self._N.T @ ra_scaled)
            alpha = ra_scaled - (self._N @ beta) * inv_a
            out = [None, None]
            out[a], out[b] = alpha, beta
            return out
        return self._gauss_seidel(r)

    def _gauss_seidel(self, r: list[np.ndarray]) -> list[np.ndarray]:
        m = r[0].shape[1]
        coefs = [np.zeros((s, m)) for s in self.sizes]
        fitted = np.zeros((self.n, m))
        wd = [d.multiply(self.w[:, None]).T.tocsr() for d in self.dummies]
        for _ in range(self.maxiter):
            delta = 0.0
            for k, (code, inv) in enumerate(zip(self.codes, self._inv_counts, strict=True)):
                partial = fitted - coefs[k][code]
                new = (r[k] - wd[k] @ partial) * inv[:, None]
                change = new[code] - coefs[k][code]
                delta = max(delta, float(np.abs(change).max()) if change.size else 0.0)
                coefs[k] = new
                fitted = partial + new[code]
            scale = 1.0 + float(np.abs(fitted).max()) if fitted.size else 1.0
            if delta <= self.tol * scale:
                return coefs
        raise RuntimeError(
            "fixed-effect solver did not converge (disconnected or ill-posed design?)"
        )

    # -- conveniences -------------------------------------------------------------------------
    def fit(self, Y: np.ndarray) -> list[np.ndarray]:
        """Fixed-effect coefficients of the weighted regression of Y on the dummies."""
        return self.solve(self.rhs(Y))

    def predict(
        self, coefs: Sequence[np.ndarray], codes: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """``sum_k coef_k[code_k]`` (n x m); ``codes`` default to the fitting rows."""
        codes = self.codes if codes is None else codes
        out = 0.0
        for c, code in zip(coefs, codes, strict=True):
            out = out + c[np.asarray(code)]
        return np.asarray(out)

    def absorb(self, Y: np.ndarray) -> np.ndarray:
        """Residuals of Y (n or n x m) after projecting out the fixed effects (same shape as Y)."""
        Y = np.asarray(Y, dtype=float)
        res = Y.reshape(self.n, -1) - self.predict(self.fit(Y))
        return res.reshape(Y.shape)

    def n_params(self) -> int:
        """Number of free fixed-effect parameters: levels minus one per extra factor.

        This is fixest's count for the degrees-of-freedom correction (it assumes a connected
        design; exact redundancies of irregular 3+-way designs are not detected).
        """
        return int(sum(int((cnt > 0).sum()) for cnt in self.counts) - (len(self.codes) - 1))


def absorb(
    X: np.ndarray,
    fe: Sequence[np.ndarray],
    weights: np.ndarray | None = None,
    **kwargs,
) -> np.ndarray:
    """Within-transform the columns of X by the fixed effects given as columns/arrays in ``fe``.

    ``fe`` entries may be any labels (they are factorised).  Returns ``X`` minus its weighted
    least-squares projection on the dummies of all factors.
    """
    codes = [factorize(f)[0] for f in fe]
    return FixedEffects(codes, weights, **kwargs).absorb(X)


def indicator_matrix(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """Sparse n x ``n_levels`` dummy matrix of integer codes."""
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_levels))


def demean(
    X: np.ndarray,
    fe: list[np.ndarray],
    weights: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Residuals of the columns of ``X`` after projecting out the fixed effects ``fe`` (list of
    integer code arrays), weighted by ``weights``; alternating projections to convergence."""
    X = np.array(X, dtype=float, copy=True)
    if X.ndim == 1:
        X = X[:, None]
    if not fe:
        return X
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)
    mats = []
    for codes in fe:
        D = indicator_matrix(codes, int(codes.max()) + 1)
        wsum = np.asarray(D.T @ w).ravel()
        mats.append((D, np.where(wsum > 0, wsum, 1.0)))
    scale = max(float(np.abs(X).max()), 1.0)
    for _ in range(max_iter):
        change = 0.0
        for D, wsum in mats:
            means = (D.T @ (X * w[:, None])) / wsum[:, None]
            step = D @ means
            X -= step
            change = max(change, float(np.abs(step).max()))
        if len(mats) == 1 or change <= tol * scale:
            break
    return X
