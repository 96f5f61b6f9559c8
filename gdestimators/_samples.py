"""Where the training samples live, and the reads of them that a fit makes.

A fit touches the data only through the methods of a samples object:

* ``loss_and_gradient(w, b, loss, with_targets=True)``: the cost and its
  gradients, once per evaluation of the objective;
* ``feature_moments(centered, with_correlation)``: the weighted feature
  moments the preconditioner is built from, once per fit;
* ``loss_gradient_hessian(w, b, loss, ...)``: the cost, its gradient and its
  Hessian in one pass, for Newton's method;
* ``logits(w, b)`` and ``reduce_logits(z, function)``: the logits of every
  sample, kept, and sums over samples of functions of them (the intercept
  shift and the duality gap of the stop test need no further pass over X).

:class:`InMemorySamples` holds numpy, scipy.sparse or array-API arrays and
reads them block by block; :class:`._dask.DaskSamples` holds a dask array on
a cluster and maps the same functions over its chunks of samples, summing
the results: one map-reduce per read.
"""

import scipy.sparse as sp

from ._array_api import is_dask_collection, namespace
from ._hessian import loss_gradient_hessian_sums
from ._moments import weighted_feature_moments
from ._objectives import _as_dense, loss_and_gradient_sums, predict


class InMemorySamples:
    """Samples held in memory (numpy, scipy.sparse or an array-API namespace).

    Parameters
    ----------
    X : array or sparse matrix of shape (m, n_features)
        Validated data; used through ``X.T`` (a view, never a copy).
    Y : array of shape (k, m)
        Targets, one row per output.
    sample_weight : array of shape (m,)
        Non-negative weights with a positive sum.
    """

    def __init__(self, X, Y, sample_weight):
        self.XT = X.T
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.total_weight = namespace(sample_weight).sum(sample_weight)

    @property
    def n_features(self):
        """Number of features."""
        return self.X.shape[1]

    @property
    def like(self):
        """An array of the data's namespace, device and dtype (the data)."""
        return self.X

    def loss_and_gradient(self, w, b, loss, with_targets=True):
        """``J``, ``grad_w J`` and ``grad_b J`` (:mod:`._objectives`); zero targets unless
        ``with_targets``.

        The cost is returned as a 0-d array where the data live (no host
        round trip: the solver reads it with the other scalars it needs).
        """
        Y = self.Y if with_targets else None
        J, grad_w, grad_b = loss_and_gradient_sums(
            self.XT, Y, self.sample_weight, w, b, loss
        )
        S = self.total_weight
        return J / S, grad_w / S, grad_b / S

    def loss_gradient_hessian(self, w, b, loss, **coordinates):
        """``J``, its gradients and its Hessian blocks, each divided by ``S``.

        ``coordinates`` are the keyword arguments ``center``, ``scale``,
        ``intercept_scale`` and ``fit_intercept`` of
        :func:`._hessian.loss_gradient_hessian_sums`.
        """
        J, grad_w, grad_b, blocks = loss_gradient_hessian_sums(
            self.XT, self.Y, self.sample_weight, w, b, loss, **coordinates
        )
        S = self.total_weight
        return J / S, grad_w / S, grad_b / S, {key: block / S for key, block in blocks.items()}

    def hessian_work_per_entry(self, n_coordinates):
        """Multiply-adds per stored entry of ``X`` in a Hessian pass (per output pair)."""
        if sp.issparse(self.X):
            return self.X.nnz / max(self.X.shape[0], 1)
        return float(n_coordinates)

    def logits(self, w, b):
        """``z = w^T X + b`` of every sample, shape ``(k, m)`` (one pass over ``X``)."""
        return predict(self.XT, w, b)

    def reduce_logits(self, z, function):
        """``function(z, Y, s)``: sums over samples of functions of the logits.

        ``function`` returns a tuple of sums over its samples; for data in
        chunks it is applied chunk by chunk and the tuples added.
        """
        return function(z, self.Y, self.sample_weight)

    def correlate_logits(self, z, function):
        """``X^T F^T`` for ``F = function(z, Y, s)`` of shape ``(j, m)``: one pass over ``X``.

        The gradient formula's product, for rows computed from kept logits.
        """
        return _as_dense(self.XT @ function(z, self.Y, self.sample_weight).T)

    def feature_moments(self, centered, with_correlation):
        """:func:`._moments.weighted_feature_moments` of the data."""
        return weighted_feature_moments(
            self.X, self.sample_weight, centered, with_correlation
        )


def make_samples(X, Y, sample_weight):
    """The samples object for ``X``: in memory, or chunks of a dask array."""
    if is_dask_collection(X):
        from ._dask import DaskSamples

        return DaskSamples(X, Y, sample_weight)
    return InMemorySamples(X, Y, sample_weight)
