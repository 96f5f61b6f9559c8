"""A change of variables that speeds gradient descent up without changing the answer.

Raw features come with wildly different scales and offsets (a price in dollars
next to a one-hot column), which makes the cost surface a narrow valley and
plain gradient descent crawl. The solvers therefore work in coordinates

.. math::

    w_j = d_j v_j, \\qquad b = d_c c - \\mu^T w,

where :math:`\\mu` is the weighted mean of the features (implicit centering:
``X w - mu.w`` is computed, never a centred copy of ``X``) and
:math:`d_j = 1/\\sqrt{\\kappa \\operatorname{var}_j + \\lambda_2}` makes every
diagonal entry of the (bounded) Hessian equal to one (Jacobi preconditioning;
:math:`\\kappa` bounds the loss curvature, :math:`\\lambda_2` is the L2 strength).
The map is linear and invertible, so the minimiser is the same; only the path
to it changes. By the note's chain rule the gradient in the new coordinates is
``d * (grad_w - mu grad_b^T)`` for ``v`` and ``d_c grad_b`` for ``c``.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._objectives import _sample_blocks


@dataclass(frozen=True)
class Preconditioner:
    """Centering and scaling of the coefficients.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
        Weighted feature means (zeros without intercept or when disabled).
    scale : ndarray of shape (n_features,)
        ``d_j``: multiplies a scaled coefficient to give the original one.
    intercept_scale : float
        ``d_c``.
    """

    mean: np.ndarray
    scale: np.ndarray
    intercept_scale: float

    @classmethod
    def identity(cls, n_features, dtype):
        """No change of variables: the note's plain coordinates."""
        return cls(
            np.zeros(n_features, dtype=dtype), np.ones(n_features, dtype=dtype), 1.0
        )

    def to_original(self, theta, fit_intercept):
        """Split ``theta`` into the original ``(w, b)``."""
        n_features = self.scale.shape[0]
        w = theta[:n_features] * self.scale[:, None]
        if not fit_intercept:
            return w, np.zeros(theta.shape[1], dtype=theta.dtype)
        b = self.intercept_scale * theta[n_features] - self.mean @ w
        return w, b

    def from_original(self, w, b, fit_intercept):
        """Inverse of :meth:`to_original` (used to warm start)."""
        v = w / self.scale[:, None]
        if not fit_intercept:
            return v
        c = (b + self.mean @ w) / self.intercept_scale
        return np.vstack([v, c[None, :]])

    def gradient_to_scaled(self, grad_w, grad_b, fit_intercept):
        """The chain rule: the original gradient seen in the scaled coordinates."""
        grad_v = self.scale[:, None] * (grad_w - np.outer(self.mean, grad_b))
        if not fit_intercept:
            return grad_v
        return np.vstack([grad_v, self.intercept_scale * grad_b[None, :]])


def weighted_feature_moments(X, s, centered):
    """Weighted mean and variance (or second moment) of each column of ``X``.

    Computed in float64 in blocks of samples, with the variance as the mean of
    squared deviations (two passes), which avoids the cancellation of
    ``E[x^2] - E[x]^2`` for features with a large offset. Sparse ``X`` uses the
    one-pass formula on its stored entries, never densifying.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        Zeros when ``centered`` is False.
    variance : ndarray of shape (n_features,)
        Variance about ``mean`` (the raw second moment when not centered).
    """
    p = np.asarray(s, dtype=np.float64) / np.sum(s, dtype=np.float64)
    n_features = X.shape[1]
    if sp.issparse(X):
        X = sp.csr_array(X)
        mean = np.asarray(X.T @ p, dtype=np.float64) if centered else np.zeros(n_features)
        squared = X.copy()
        squared.data = np.asarray(squared.data, dtype=np.float64) ** 2
        second_moment = np.asarray(squared.T @ p)
        variance = np.maximum(second_moment - mean**2, 0.0)
        return mean, variance
    # Blocks of rows, computed in X's own dtype (mixing float32 data with
    # float64 weights would take numpy's slow non-BLAS path) and summed
    # across blocks in float64.
    p = p.astype(X.dtype)
    blocks = _sample_blocks(X.T)
    mean = np.zeros(n_features)
    if centered:
        for block in blocks:
            mean += p[block] @ X[block]
    variance = np.zeros(n_features)
    mean_in_dtype = mean.astype(X.dtype)
    for block in blocks:
        deviation = X[block] - mean_in_dtype
        deviation *= deviation
        variance += p[block] @ deviation
    return mean, variance


def jacobi_preconditioner(X, s, fit_intercept, curvature, l2_strength, dtype):
    """Centering and scaling that give the bounded Hessian a unit diagonal.

    A feature with zero variance and no L2 penalty keeps scale 1: its gradient
    is zero in the centred coordinates, so its coefficient never moves.
    """
    mean, variance = weighted_feature_moments(X, s, centered=fit_intercept)
    diagonal = curvature * variance + l2_strength
    scale = np.ones_like(diagonal)
    positive = diagonal > 0
    scale[positive] = 1.0 / np.sqrt(diagonal[positive])
    return Preconditioner(
        mean.astype(dtype), scale.astype(dtype), float(1.0 / np.sqrt(curvature))
    )
