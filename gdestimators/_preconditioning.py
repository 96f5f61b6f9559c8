"""A change of variables that speeds gradient descent up without changing the answer.

Raw features come with wildly different scales and offsets (a price in dollars
next to a one-hot column), and real features are correlated (radius, perimeter
and area of the same cell). Both make the cost surface a narrow valley in
which plain gradient descent crawls. The solvers therefore work in coordinates
``theta = (v, c)`` with

.. math::

    w = D R v, \\qquad b = d_c c - \\mu^T w,

a linear, invertible map, so the minimiser is the same and only the path to it
changes:

* :math:`\\mu`, the weighted feature means: implicit centering (``X w - mu.w`` is
  computed, never a centred copy of ``X``), which decouples the intercept;
* :math:`D`, diagonal with :math:`d_j = 1/\\sqrt{\\kappa \\operatorname{var}_j +
  \\lambda_2}` (Jacobi scaling: the curvature bound gets a unit diagonal;
  :math:`\\kappa` bounds the loss curvature, :math:`\\lambda_2` is the L2 strength);
* :math:`R`, optional (``"full"``): :math:`K^{-1/2}` for the scaled curvature
  bound :math:`K = D (\\kappa \\Sigma + \\lambda_2 I) D`, which makes that bound
  the identity. For least squares this is the exact Hessian, so one gradient
  step solves the problem; for the log-losses the remaining ill-conditioning is
  only that of the sample curvatures ``a (1 - a)``. It costs one product
  ``X^T X`` and an ``n_features``-square eigendecomposition, and it mixes
  coordinates, so it is not used with an L1 penalty (whose prox needs
  separable coordinates).

By the note's chain rule the gradient in the new coordinates is
``R^T D (grad_w - mu grad_b^T)`` for ``v`` and ``d_c grad_b`` for ``c``.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import from_numpy, namespace, numpy_float_dtype

#: Largest number of features for which ``precondition="auto"`` uses "full".
FULL_PRECONDITIONER_MAX_FEATURES = 1024
#: A feature whose standard deviation is below this many ulps of its mean is
#: constant up to rounding.
_CONSTANT_ULPS = 64


@dataclass(frozen=True)
class Preconditioner:
    """Centering, scaling and (optionally) decorrelation of the coefficients.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
        Weighted feature means (zeros without intercept or when disabled).
    scale : ndarray of shape (n_features,)
        The diagonal of ``D``.
    intercept_scale : float
        ``d_c``.
    rotation : ndarray of shape (n_features, n_features) or None
        The symmetric ``R`` (None means the identity).
    rotation_inverse : ndarray of shape (n_features, n_features) or None
        ``R^{-1}``, for warm starts.
    bound_spectrum : tuple of ndarray or None
        With ``R``: the eigenvalues and eigenvectors (numpy, float64) of the
        curvature bound in the new coordinates, ``R K R``. For least squares
        the bound is the Hessian itself, so this is the exact Hessian of
        the coefficients (the centred intercept's is 1, uncoupled).
    """

    mean: np.ndarray
    scale: np.ndarray
    intercept_scale: float
    rotation: np.ndarray = None
    rotation_inverse: np.ndarray = None
    bound_spectrum: tuple = None

    @classmethod
    def identity(cls, like):
        """No change of variables: the note's plain coordinates.

        ``like`` is the data: the arrays get its namespace, device and dtype.
        """
        zeros = np.zeros(like.shape[1], dtype=numpy_float_dtype(like))
        return cls(from_numpy(zeros, like), from_numpy(zeros + 1, like), 1.0)

    @property
    def is_identity(self):
        """Whether this is the note's plain coordinates."""
        xp = namespace(self.scale)
        return (
            self.rotation is None
            and self.intercept_scale == 1.0
            and not bool(xp.any(self.mean != 0))
            and bool(xp.all(self.scale == 1))
        )

    def to_original(self, theta, fit_intercept):
        """Split ``theta`` into the original ``(w, b)``."""
        xp = namespace(theta)
        n_features = self.scale.shape[0]
        v = theta[:n_features, ...]
        if self.rotation is not None:
            v = self.rotation @ v
        w = v * self.scale[:, None]
        if not fit_intercept:
            return w, xp.zeros_like(theta[0, ...])
        b = self.intercept_scale * theta[n_features, ...] - self.mean @ w
        return w, b

    def from_original(self, w, b, fit_intercept):
        """Inverse of :meth:`to_original` (used to warm start)."""
        xp = namespace(w)
        v = w / self.scale[:, None]
        if self.rotation_inverse is not None:
            v = self.rotation_inverse @ v
        if not fit_intercept:
            return v
        c = (b + self.mean @ w) / self.intercept_scale
        return xp.concat([v, c[None, :]], axis=0)

    def gradient_to_scaled(self, grad_w, grad_b, fit_intercept):
        """The chain rule: the original gradient seen in the new coordinates."""
        xp = namespace(grad_w)
        grad_v = self.scale[:, None] * (grad_w - self.mean[:, None] * grad_b[None, :])
        if self.rotation is not None:
            grad_v = self.rotation @ grad_v
        if not fit_intercept:
            return grad_v
        return xp.concat([grad_v, self.intercept_scale * grad_b[None, :]], axis=0)



def _inverse_square_roots(matrix, dtype):
    """``K^{-1/2}``, ``K^{1/2}`` and the spectrum of ``K^{-1/2} K K^{-1/2}``.

    Eigenvalues below ``100 sqrt(eps)`` times the largest (directions along
    which the data barely vary, such as collinear columns) are lifted to that
    floor. Every such direction then gets the same factor, so the result does
    not depend on how the eigensolver picks a basis of the (near-)null space;
    and the rounding noise that a gradient carries along those directions
    (``eps`` relative) is amplified by at most ``eps / floor``, about 1e-10 in
    float64. Directions below the floor are merely less well preconditioned.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    relative_floor = 100.0 * np.sqrt(float(np.finfo(dtype).eps))
    floor = max(float(eigenvalues[-1]), 0.0) * relative_floor
    if not floor > 0:
        # No direction varies at all: there is nothing to decorrelate.
        floor = 1.0
    lifted = np.maximum(eigenvalues, floor)
    inverse_root = (eigenvectors / np.sqrt(lifted)) @ eigenvectors.T
    root = (eigenvectors * np.sqrt(lifted)) @ eigenvectors.T
    # With the floor, K^{-1/2} K K^{-1/2} has eigenvalue 1 above it and
    # lambda / floor below it, on the same eigenvectors.
    spectrum = (np.maximum(eigenvalues, 0.0) / lifted, eigenvectors)
    return inverse_root, root, spectrum


def make_preconditioner(samples, *, fit_intercept, curvature, l2_strength, kind):
    """Build the change of variables for ``kind`` in {"full", "diagonal", "none"}.

    ``samples`` is the data (:mod:`._samples`): its ``feature_moments`` give
    the weighted moments and its ``like`` the arrays' namespace and dtype.
    """
    if kind == "none":
        return Preconditioner.identity(samples.like)
    mean, std, correlation = samples.feature_moments(
        centered=fit_intercept, with_correlation=kind == "full"
    )
    return preconditioner_from_moments(
        mean, std, correlation, curvature=curvature, l2_strength=l2_strength,
        like=samples.like,
    )


def preconditioner_from_moments(mean, std, correlation, *, curvature,
                                l2_strength, like):
    """The change of variables given weighted feature moments (numpy, float64).

    Computed on the host (its size is that of the coefficients) and moved to
    the namespace, device and dtype of the data ``like``. ``correlation=None``
    gives the diagonal preconditioner. A feature with zero spread and no L2
    penalty keeps scale 1: its gradient is zero in the centred coordinates,
    so its coefficient never moves.
    """
    dtype = numpy_float_dtype(like)
    # A constant column's computed spread is rounding noise (c eps), which
    # would give it a scale of 1/(c eps): treat it as exactly constant.
    constant = std <= _CONSTANT_ULPS * np.finfo(dtype).eps * np.abs(mean)
    std = np.where(constant, 0.0, std)
    # d_j = 1 / sqrt(kappa var_j + lambda_2), with hypot so that spreads near
    # 1e+-300 do not under/overflow when squared.
    diagonal_root = np.hypot(np.sqrt(curvature) * std, np.sqrt(l2_strength))
    scale = np.ones_like(diagonal_root)
    positive = diagonal_root > 0
    scale[positive] = 1.0 / diagonal_root[positive]
    rotation = rotation_inverse = spectrum = None
    if correlation is not None:
        # The bound D (kappa Sigma + lambda_2 I) D, written with a_j =
        # sqrt(kappa) std_j d_j and e_j = sqrt(lambda_2) d_j, all in [0, 1].
        data_part = np.sqrt(curvature) * std * scale
        correlation = np.where(constant[:, None] | constant[None, :], 0.0, correlation)
        bound = np.outer(data_part, data_part) * correlation
        bound[np.diag_indices_from(bound)] += (np.sqrt(l2_strength) * scale) ** 2
        rotation, rotation_inverse, spectrum = _inverse_square_roots(bound, dtype)
        rotation = from_numpy(rotation.astype(dtype), like)
        rotation_inverse = from_numpy(rotation_inverse.astype(dtype), like)
    return Preconditioner(
        from_numpy(mean.astype(dtype), like), from_numpy(scale.astype(dtype), like),
        float(1.0 / np.sqrt(curvature)), rotation, rotation_inverse, spectrum,
    )


def resolve_kind(precondition, n_features, has_l1):
    """The preconditioner that ``precondition`` asks for on this problem."""
    if precondition == "auto":
        if has_l1 or n_features > FULL_PRECONDITIONER_MAX_FEATURES:
            return "diagonal"
        return "full"
    if precondition == "full" and has_l1:
        raise ValueError(
            "precondition='full' mixes coordinates, which the L1 penalty's "
            "proximal step cannot handle; use precondition='diagonal' or 'auto' "
            "with l1_ratio > 0."
        )
    return precondition
