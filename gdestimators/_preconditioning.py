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
import scipy.sparse as sp

from ._array_api import from_numpy, namespace, numpy_float_dtype, to_float, to_numpy
from ._objectives import _sample_blocks

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
    """

    mean: np.ndarray
    scale: np.ndarray
    intercept_scale: float
    rotation: np.ndarray = None
    rotation_inverse: np.ndarray = None

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


def weighted_feature_moments(X, s, centered, with_correlation=False):
    """Weighted mean, standard deviation and optionally correlation of the columns.

    Each column is divided by its largest magnitude before it is squared, so
    that features near 1e-300 or 1e300 neither underflow nor overflow.
    Dense ``X`` is read in blocks of rows, in its own namespace and dtype
    (mixing float32 data with float64 weights would take numpy's slow
    non-BLAS path), and block results are summed in float64 on the host.
    Deviations are taken from the mean (two passes), which avoids the
    cancellation of ``E[x^2] - E[x]^2`` for features with a large offset.
    Sparse ``X`` uses the one-pass formula on its stored entries and is never
    densified.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        Zeros when ``centered`` is False.
    std : ndarray of shape (n_features,)
        Standard deviation about ``mean`` (the root mean square when not
        centered).
    correlation : ndarray of shape (n_features, n_features) or None
        Weighted correlation about ``mean`` (zero rows for constant
        features), when ``with_correlation``.
    """
    if sp.issparse(X):
        mean, magnitude, scaled_covariance = _sparse_scaled_moments(
            X, s, centered, with_correlation
        )
    else:
        mean, magnitude, scaled_covariance = _dense_scaled_moments(
            X, s, centered, with_correlation
        )
    return moments_from_scaled(mean, magnitude, scaled_covariance, with_correlation)


def moments_from_scaled(mean, magnitude, scaled_covariance, with_correlation):
    """``(mean, std, correlation)`` from the covariance of ``X / magnitude``.

    The last step of :func:`weighted_feature_moments`, shared with data held
    in chunks (:mod:`._dask`), which computes the same sums chunk by chunk.
    """
    scaled_variance = np.maximum(np.diag(scaled_covariance).copy(), 0.0)
    std = magnitude * np.sqrt(scaled_variance)
    if not with_correlation:
        return mean, std, None
    root = np.sqrt(scaled_variance)
    varies = root > 0
    correlation = np.zeros_like(scaled_covariance)
    correlation[np.ix_(varies, varies)] = (
        scaled_covariance[np.ix_(varies, varies)]
        / np.outer(root[varies], root[varies])
    )
    return mean, std, correlation


def _sparse_scaled_moments(X, s, centered, full):
    """Mean, column magnitudes, and the covariance of ``X / magnitude``.

    Only the diagonal of the covariance is filled unless ``full``. Rows are
    read in blocks of about ``_SPARSE_BLOCK_NNZ`` stored entries, so that the
    scaled copies live one block at a time, never the size of ``X``.
    """
    n_features = X.shape[1]
    p = np.asarray(s, dtype=np.float64) / np.sum(s, dtype=np.float64)
    X = sp.csr_array(X)
    blocks = _sparse_row_blocks(X)
    magnitude = np.zeros(n_features)
    for block in blocks:
        block_magnitude = abs(X[block]).max(axis=0).toarray().ravel()
        magnitude = np.maximum(magnitude, block_magnitude)
    magnitude[magnitude == 0] = 1.0
    inverse_magnitude = 1.0 / magnitude[None, :]
    scaled_sum = np.zeros(n_features)
    second = np.zeros((n_features, n_features) if full else n_features)
    for block in blocks:
        scaled = sp.csr_array(X[block].multiply(inverse_magnitude), dtype=np.float64)
        p_block = p[block]
        scaled_sum += scaled.T @ p_block
        if full:
            second += _dense(scaled.T @ sp.csr_array(scaled.multiply(p_block[:, None])))
        else:
            scaled.data **= 2
            second += scaled.T @ p_block
    scaled_mean = scaled_sum if centered else np.zeros(n_features)
    if full:
        covariance = second - np.outer(scaled_mean, scaled_mean)
    else:
        covariance = np.diag(second - scaled_mean**2)
    return scaled_mean * magnitude, magnitude, covariance


#: Stored entries of a sparse X read per block by the moments.
_SPARSE_BLOCK_NNZ = 2**18


def _sparse_row_blocks(X):
    """Slices of rows of the CSR ``X`` holding about ``_SPARSE_BLOCK_NNZ`` entries."""
    n_rows = X.shape[0]
    rows = max(1, int(_SPARSE_BLOCK_NNZ * n_rows / max(X.nnz, 1)))
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def _dense_scaled_moments(X, s, centered, full):
    """Mean, column magnitudes, and the covariance of ``X / magnitude``.

    Only the diagonal of the covariance is filled unless ``full``.
    """
    p = s / namespace(X).sum(s)
    return scaled_moments(
        first_moment_sums(X, p),
        lambda mean, magnitude: second_moment_sums(X, p, mean, magnitude, full),
        centered,
    )


def scaled_moments(first_sums, second_sums, centered):
    """The two passes of the scaled moments, however the rows are read.

    ``first_sums`` is the result of :func:`first_moment_sums`;
    ``second_sums(mean, magnitude)`` that of :func:`second_moment_sums`.
    Returns the mean (zeros unless ``centered``), the column magnitudes
    (1 for all-zero columns) and the covariance of ``X / magnitude``.
    """
    weighted_sum, magnitude = first_sums
    magnitude = np.where(magnitude == 0, 1.0, magnitude)
    mean = weighted_sum if centered else np.zeros_like(weighted_sum)
    return mean, magnitude, second_sums(mean, magnitude)


def first_moment_sums(X, p):
    """``sum_i p_i x_i`` and the largest ``|x_ij|`` of each column (float64, host).

    ``X`` dense of shape ``(m, n_features)``, read in blocks of rows; ``p``
    the sample weights divided by their total. Over a split of the rows the
    first result adds up and the second is a maximum.
    """
    xp = namespace(X)
    weighted_sum = np.zeros(X.shape[1])
    magnitude = np.zeros(X.shape[1])
    for block in _sample_blocks(X.T):
        weighted_sum += to_numpy(p[block] @ X[block, ...])
        magnitude = np.maximum(magnitude, to_numpy(xp.max(xp.abs(X[block, ...]), axis=0)))
    return weighted_sum, magnitude


def second_moment_sums(X, p, mean, magnitude, full):
    """Weighted (co)variance sums of ``(X - mean) / magnitude`` (float64, host).

    Deviations are taken from the given mean (the two-pass formula), which
    avoids the cancellation of ``E[x^2] - E[x]^2`` for features with a large
    offset. Returns the ``(n_features, n_features)`` matrix if ``full``, else
    one with only its diagonal filled. Adds up over a split of the rows.
    """
    xp = namespace(X)
    dtype = numpy_float_dtype(X)
    mean_in_dtype = from_numpy(mean.astype(dtype), X)
    inverse_magnitude = from_numpy((1.0 / magnitude).astype(dtype), X)
    blocks = _sample_blocks(X.T)
    if full:
        covariance = np.zeros((X.shape[1], X.shape[1]))
        root_p = xp.sqrt(p)
        for block in blocks:
            deviation = (X[block, ...] - mean_in_dtype) * inverse_magnitude
            deviation = deviation * root_p[block][:, None]
            # A.T @ A of one array: numpy calls the symmetric rank-k update.
            covariance += to_numpy(deviation.T @ deviation)
        return covariance
    variance = np.zeros(X.shape[1])
    for block in blocks:
        deviation = (X[block, ...] - mean_in_dtype) * inverse_magnitude
        variance += to_numpy(p[block] @ (deviation * deviation))
    return np.diag(variance)


def _dense(matrix):
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def _inverse_square_roots(matrix, dtype):
    """``K^{-1/2}`` and ``K^{1/2}`` of a symmetric PSD matrix.

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
    return inverse_root, root


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
    rotation = rotation_inverse = None
    if correlation is not None:
        # The bound D (kappa Sigma + lambda_2 I) D, written with a_j =
        # sqrt(kappa) std_j d_j and e_j = sqrt(lambda_2) d_j, all in [0, 1].
        data_part = np.sqrt(curvature) * std * scale
        correlation = np.where(constant[:, None] | constant[None, :], 0.0, correlation)
        bound = np.outer(data_part, data_part) * correlation
        bound[np.diag_indices_from(bound)] += (np.sqrt(l2_strength) * scale) ** 2
        rotation, rotation_inverse = _inverse_square_roots(bound, dtype)
        rotation = from_numpy(rotation.astype(dtype), like)
        rotation_inverse = from_numpy(rotation_inverse.astype(dtype), like)
    return Preconditioner(
        from_numpy(mean.astype(dtype), like), from_numpy(scale.astype(dtype), like),
        float(1.0 / np.sqrt(curvature)), rotation, rotation_inverse,
    )


class RunningMoments:
    """Weighted feature mean and variance over batches (for ``partial_fit``).

    Batches are merged with the pairwise update of Chan, Golub and LeVeque,
    which stays accurate for features with a large offset.
    """

    def __init__(self, n_features):
        self.total_weight = 0.0
        self.mean = np.zeros(n_features)
        self.sum_squared_deviations = np.zeros(n_features)

    def update(self, X, s, centered):
        """Merge the batch ``X`` with weights ``s``."""
        batch_weight = to_float(namespace(s).sum(s))
        batch_mean, batch_std, _ = weighted_feature_moments(X, s, centered)
        batch_variance = batch_std**2
        total = self.total_weight + batch_weight
        delta = batch_mean - self.mean
        self.sum_squared_deviations += (
            batch_weight * batch_variance
            + delta**2 * self.total_weight * batch_weight / total
        )
        self.mean += delta * batch_weight / total
        self.total_weight = total

    @property
    def std(self):
        """Weighted standard deviation about the running mean."""
        return np.sqrt(self.sum_squared_deviations / self.total_weight)


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
    if precondition not in ("full", "diagonal", "none"):
        raise ValueError(
            "precondition must be one of 'auto', 'full', 'diagonal', 'none'; "
            f"got {precondition!r}."
        )
    return precondition
