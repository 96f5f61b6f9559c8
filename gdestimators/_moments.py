"""Weighted feature moments: means, spreads and correlations of the columns of X.

The change of variables (:mod:`._preconditioning`) is built from these, and
``partial_fit`` keeps running versions of them over batches. Dense ``X`` is
read in blocks of samples (:mod:`._blocks`) in its own namespace and dtype;
sparse ``X`` in blocks of rows, never densified; a dask array chunk by chunk,
with the per-block sums below (``first_moment_sums``, ``second_moment_sums``)
added up across chunks (:mod:`._dask`). Results are float64 numpy arrays on
the host: their size is that of the coefficients.
"""

import numpy as np
import scipy.sparse as sp

from ._array_api import from_numpy, namespace, numpy_float_dtype, to_float, to_numpy
from ._blocks import sample_blocks


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
    for block in sample_blocks(X.T):
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
    blocks = sample_blocks(X.T)
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
