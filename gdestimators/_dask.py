"""Dask arrays: the fit's reads of the data as map-reduces over chunks of samples.

A dask array ``X`` chunked along samples may be larger than any one machine's
memory. It is persisted once (on the workers of a ``dask.distributed``
cluster, when one is the default scheduler) and every read of it is one
map-reduce: the same per-block functions that read in-memory data
(:func:`._objectives.loss_and_gradient_sums`,
:func:`._moments.first_moment_sums`, ...) run on each chunk where the
chunk lives, and only their sums, of the size of the coefficients, travel
back and are added up in a tree. The solver itself runs on the client with
numpy parameters, exactly as for numpy data, so the fit equals the numpy fit
up to the order of floating-point summation.

The targets and sample weights (``n_features`` times smaller than ``X``) are
validated and prepared on the client with the numpy code, then cut into
chunks aligned with ``X``'s and persisted beside it.

This module imports dask; the rest of the package imports it only when it
receives a dask collection.
"""

import dask
import dask.array as da
import numpy as np
from sklearn.utils.validation import check_consistent_length, validate_data

from ._hessian import loss_gradient_hessian_sums
from ._moments import (
    first_moment_sums,
    moments_from_scaled,
    scaled_moments,
    second_moment_sums,
)
from ._objectives import loss_and_gradient_sums, predict

#: dtypes fitted as they are; other numeric dtypes become float64, as
#: scikit-learn's validation converts them.
_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def as_sample_chunked(estimator, X, *, reset):
    """Check a dask ``X`` and give it one chunk of columns.

    Checks what scikit-learn's validation checks without reading the data
    (dimensions, dtype, number of features, feature names); non-finite
    values are found by the first pass over the data in :class:`DaskSamples`.
    """
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{type(estimator).__name__} accepts dask arrays, not "
            f"{type(X).__name__}; convert a dask DataFrame with "
            "X.to_dask_array(lengths=True)."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array, got a {X.ndim}D array of shape "
            f"{X.shape} instead. Reshape your data."
        )
    validate_data(estimator, X, skip_check_array=True, reset=reset)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported.")
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"dask array dtype {X.dtype} is not supported: X must be numeric."
        )
    if X.dtype not in _FLOAT_DTYPES:
        X = X.astype(np.float64)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            f"of 1 is required by {type(estimator).__name__}."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
            f"of 1 is required by {type(estimator).__name__}."
        )
    return X


def validate_dask_input(estimator, X, y, sample_weight, **y_checks):
    """Validate a dask ``X`` for ``fit``; ``y`` and weights come to the host.

    Returns ``X`` (persisted, one chunk of columns, float32 or float64) and
    ``y`` and ``sample_weight`` as numpy arrays, ``y`` checked as
    scikit-learn's ``validate_data`` checks it with ``y_checks``.
    """
    X = as_sample_chunked(estimator, X, reset=True)
    y = _to_host(y)
    y = validate_data(estimator, "no_validation", y, **y_checks)
    check_consistent_length(X, y)
    sample_weight = _to_host(sample_weight)
    (X,) = dask.persist(X)
    return X, y, sample_weight


def _to_host(array):
    if array is None or not hasattr(array, "__dask_graph__"):
        return array
    return np.asarray(array.compute())


def map_over_chunks(method, X, estimator, *, columns, dtype):
    """``method`` applied to each chunk of samples of ``X``, lazily.

    ``method`` maps a numpy block of rows to an array of as many rows, 1-D
    when ``columns`` is None, else with ``columns`` columns. Returns a lazy
    dask array.
    """
    X = as_sample_chunked(estimator, X, reset=False)
    if columns is None:
        return X.map_blocks(
            method, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype=dtype)
        )
    return X.map_blocks(
        method, chunks=(X.chunks[0], (columns,)), dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


class DaskSamples:
    """Samples held in the chunks of a dask array (see :mod:`._samples`).

    Parameters
    ----------
    X : dask array of shape (m, n_features)
        From :func:`validate_dask_input`: persisted, float, one chunk of
        columns.
    Y : ndarray of shape (k, m)
        Targets on the host, one row per output.
    sample_weight : ndarray of shape (m,)
        Non-negative weights on the host, with a positive sum.

    Raises
    ------
    ValueError
        If ``X`` contains NaN or infinity (found by the first pass over it,
        which also gives the first moments).
    """

    def __init__(self, X, Y, sample_weight):
        self.Y = Y
        self.sample_weight = sample_weight
        self.n_features = X.shape[1]
        self.like = np.empty((0, self.n_features), dtype=X.dtype)
        self.total_weight = float(np.sum(sample_weight, dtype=np.float64))
        bounds = np.cumsum((0, *X.chunks[0]))
        targets = [
            np.ascontiguousarray(Y[:, start:stop].T)
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        weights = np.asarray(sample_weight, dtype=X.dtype)
        weights = [weights[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
        self._chunks = list(zip(
            X.to_delayed().ravel(), *_place_on_cluster(targets, weights), strict=True
        ))
        self._first_sums = self._map_reduce(
            _first_moment_chunk, _add_then_maximum, self.total_weight
        )
        if not np.all(np.isfinite(self._first_sums[1])):
            raise ValueError(
                "Input X contains NaN or infinity; dask arrays are checked "
                "chunk by chunk in the first pass over them."
            )

    def loss_and_gradient(self, w, b, loss, with_targets=True):
        """The note's cost and gradients: one map-reduce over the chunks."""
        J, grad_w, grad_b = self._map_reduce(
            _loss_and_gradient_chunk, _add, w, b, loss, with_targets
        )
        S = self.total_weight
        return float(J) / S, grad_w / S, grad_b / S

    def loss_gradient_hessian(self, w, b, loss, **coordinates):
        """Cost, gradients and Hessian blocks (divided by ``S``): one map-reduce."""
        J, grad_w, grad_b, blocks = self._map_reduce(
            _loss_gradient_hessian_chunk, _add, w, b, loss, coordinates
        )
        S = self.total_weight
        return (float(J) / S, grad_w / S, grad_b / S,
                {key: block / S for key, block in blocks.items()})

    def hessian_work_per_entry(self, n_coordinates):
        """Multiply-adds per entry of ``X`` in a Hessian pass (per output pair)."""
        return float(n_coordinates)

    def logits(self, w, b):
        """The logits of every chunk, computed where the chunk lives and kept there."""
        shared = dask.delayed((w, b), traverse=False)
        parts = [dask.delayed(_logits_chunk)(X, shared) for X, _, _ in self._chunks]
        return list(dask.persist(*parts))

    def reduce_logits(self, z, function):
        """``function(z_chunk, Y_chunk, s_chunk)`` over the chunks, the tuples added."""
        parts = [
            dask.delayed(_apply_to_logits)(function, z_chunk, Y, s)
            for z_chunk, (_, Y, s) in zip(z, self._chunks, strict=True)
        ]
        return _tree_reduce(parts, _add)

    def correlate_logits(self, z, function):
        """``X^T F^T`` for ``F = function(z, Y, s)``: one map-reduce over the chunks."""
        parts = [
            dask.delayed(_correlate_chunk)(function, X, z_chunk, Y, s)
            for z_chunk, (X, Y, s) in zip(z, self._chunks, strict=True)
        ]
        return _tree_reduce(parts, np.add)

    def feature_moments(self, centered, with_correlation):
        """Weighted moments, as :func:`._moments.weighted_feature_moments`."""

        def second_sums(mean, magnitude):
            return self._map_reduce(
                _second_moment_chunk, np.add, self.total_weight, mean, magnitude,
                with_correlation,
            )

        mean, magnitude, covariance = scaled_moments(
            self._first_sums, second_sums, centered
        )
        return moments_from_scaled(mean, magnitude, covariance, with_correlation)

    def _map_reduce(self, kernel, combine, *arguments):
        """``kernel(X_chunk, Y_chunk, s_chunk, *arguments)`` over the chunks, combined.

        One graph: a task per chunk (run where the chunk lives), then a
        binary tree of ``combine``; one ``compute``. The arguments (the
        coefficients) enter the graph once, not once per chunk.
        """
        shared = dask.delayed(arguments, traverse=False)
        parts = [
            dask.delayed(_apply)(kernel, X, Y, s, shared)
            for X, Y, s in self._chunks
        ]
        return _tree_reduce(parts, combine)


def _tree_reduce(parts, combine):
    """Combine delayed per-chunk results in a binary tree; one ``compute``."""
    while len(parts) > 1:
        pairs = [parts[i:i + 2] for i in range(0, len(parts), 2)]
        parts = [
            dask.delayed(combine)(*pair) if len(pair) == 2 else pair[0]
            for pair in pairs
        ]
    (result,) = dask.compute(parts[0])
    return result


def _place_on_cluster(*lists_of_arrays):
    """Send the arrays to the workers once, when a distributed client is active.

    Returns futures (then every iteration refers to them instead of
    shipping the arrays again), or the arrays themselves for dask's local
    schedulers, which share the client's memory.
    """
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return lists_of_arrays
    return tuple(client.scatter(arrays) for arrays in lists_of_arrays)


def _apply(kernel, X, Y, s, arguments):
    return kernel(X, Y, s, *arguments)


def _loss_and_gradient_chunk(X, Y, s, w, b, loss, with_targets):
    return loss_and_gradient_sums(X.T, Y.T if with_targets else None, s, w, b, loss)


def _loss_gradient_hessian_chunk(X, Y, s, w, b, loss, coordinates):
    return loss_gradient_hessian_sums(X.T, Y.T, s, w, b, loss, **coordinates)


def _logits_chunk(X, coefficients):
    w, b = coefficients
    return predict(X.T, w, b)


def _apply_to_logits(function, z, Y, s):
    return function(z, Y.T, s)


def _correlate_chunk(function, X, z, Y, s):
    return X.T @ function(z, Y.T, s).T


def _first_moment_chunk(X, Y, s, total_weight):
    return first_moment_sums(X, s / total_weight)


def _second_moment_chunk(X, Y, s, total_weight, mean, magnitude, full):
    return second_moment_sums(X, s / total_weight, mean, magnitude, full)


def _add(first, second):
    """Combine two tuples of sums (a dict of arrays adds key by key)."""
    return tuple(_add_one(a, b) for a, b in zip(first, second, strict=True))


def _add_one(first, second):
    if isinstance(first, dict):
        return {key: first[key] + second[key] for key in first}
    return first + second


def _add_then_maximum(first, second):
    """Combine two :func:`first_moment_sums`: sums add, magnitudes take the maximum."""
    return first[0] + second[0], np.maximum(first[1], second[1])
