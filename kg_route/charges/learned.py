"""A learned charge signal: one-vs-rest logistic regression over the precedents' BM25 bigram rows.

The hand-weighted signals (index.py) rank by resemblance; this one is discriminative: it learns which
bigrams tell 抢劫 from 盗窃, and its per-charge sigmoid says how sure it is that a fact holds a charge,
which is what deciding on a second charge needs. Fitted once at index build (about 11 s for 5.5k cases
on 2 cores), it covers only the charges some precedent holds; the others score 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit

from kg_route.charges.bm25 import CharBM25

MIN_DF = 3  # bigrams in fewer cases are left out: 150k → 43k features (W is 43k × charges, float32)
L2 = 1e-3  # on the summed loss; on dev 0.1–3 lost exact-set accuracy (0.881 → 0.866 at 1)
ITERATIONS = 50  # L-BFGS steps; 30 underfit on dev (exact set 0.867 against 0.881)
HISTORY = 8
# A charge's positive cases weigh (n_cases / n_positive) ** BALANCE_POWER, so that a rare charge's few
# cases count; 0.5 and 1 were alike on dev.
BALANCE_POWER = 1.0

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class ChargeModel:
    """Per charge, P(the fact holds it) from the fact's BM25 bigram weights, unit length."""

    def __init__(self, cases: CharBM25, case_charges: list[list[int]], charges: int):
        rows = cases.weights.tocsr()
        frequency = np.bincount(rows.indices, minlength=rows.shape[1])
        kept = np.flatnonzero(frequency >= MIN_DF)
        self._feature = np.full(rows.shape[1], -1, dtype=np.int64)  # vocabulary column → model row
        self._feature[kept] = np.arange(kept.size)
        self.charges = np.unique([c for held in case_charges for c in held])  # those the model scores
        self._total = charges
        x = _unit_rows(rows[:, kept]).astype(np.float32)
        y = np.zeros((rows.shape[0], self.charges.size), dtype=np.float32)
        column = {int(c): i for i, c in enumerate(self.charges)}
        for case, held in enumerate(case_charges):
            y[case, [column[c] for c in held]] = 1
        positive_weight = (rows.shape[0] / np.maximum(y.sum(axis=0), 1)) ** BALANCE_POWER
        weights = np.where(y > 0, positive_weight[None, :], 1).astype(np.float32)
        fitted = _lbfgs(_logistic(x, y, weights), np.zeros((kept.size + 1, self.charges.size), np.float32))
        self._w, self._b = fitted[:-1], fitted[-1]

    def probabilities(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """One probability per charge of the index (0 for those no precedent holds), for a fact as
        `CharBM25.vector` of the cases weighs it."""
        rows = self._feature[columns]
        known = rows >= 0
        rows, weights = rows[known], weights[known]
        found = np.zeros(self._total)
        length = float(np.linalg.norm(weights))
        if length > 0:
            found[self.charges] = expit((weights / length).astype(np.float32) @ self._w[rows] + self._b)
        return found


def _unit_rows(rows: sp.csr_matrix) -> sp.csr_matrix:
    lengths = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()) + 1e-12
    return sp.csr_matrix(sp.diags(1 / lengths) @ rows)


def _logistic(x: sp.csr_matrix, y: np.ndarray, weights: np.ndarray) -> Objective:
    """Weighted binary cross-entropy of every (case, charge) plus L2 on W; θ is W with the biases as
    its last row."""
    xt = x.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        loss = -(weights * (y * log_expit(z) + (1 - y) * log_expit(-z))).sum()
        residual = weights * (expit(z) - y)
        gradient = np.empty_like(theta)
        gradient[:-1] = xt @ residual + L2 * w
        gradient[-1] = residual.sum(axis=0)
        return float(loss) + 0.5 * L2 * float(np.vdot(w, w)), gradient

    return objective


def _lbfgs(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """Plain L-BFGS (two-loop recursion, Armijo backtracking) in float32: scipy's L-BFGS-B took 3× as
    long here, converting the ~5M parameters to float64 and keeping its bound bookkeeping each step."""
    loss, gradient = objective(theta)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []  # (s, y, 1 / yᵀs)
    for _ in range(ITERATIONS):
        direction = -gradient
        alphas = []
        for s, y, rho in reversed(steps):
            alpha = rho * float(np.vdot(s, direction))
            direction = direction - alpha * y
            alphas.append(alpha)
        if steps:
            s, y, _ = steps[-1]
            direction = direction * (float(np.vdot(s, y)) / float(np.vdot(y, y)))
        for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
            direction = direction + (alpha - rho * float(np.vdot(y, direction))) * s
        step = 1.0 if steps else 1.0 / max(1.0, float(np.abs(gradient).sum()))
        slope = float(np.vdot(gradient, direction))
        while True:
            trial = theta + step * direction
            trial_loss, trial_gradient = objective(trial)
            if trial_loss <= loss + 1e-4 * step * slope or step < 1e-8:
                break
            step /= 2
        s, y = trial - theta, trial_gradient - gradient
        curvature = float(np.vdot(s, y))
        if curvature > 1e-10:
            steps = [*steps, (s, y, 1 / curvature)][-HISTORY:]
        theta, loss, gradient = trial, trial_loss, trial_gradient
    return theta
