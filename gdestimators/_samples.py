"""Where the training samples live, and the reads of them that a fit makes.

A fit touches the data only through the methods of a samples object:

* ``loss_and_gradient(w, b, loss, with_targets=True)``: the cost and its
  gradients, once per evaluation of the objective;
* ``feature_moments(centered, with_correlation)``: the weighted feature
  moments the preconditioner is built from, once per fit.

:class:`InMemorySamples` holds numpy, scipy.sparse or array-API arrays and
reads them block by block; :class:`._dask.DaskSamples` holds a dask array on
a cluster and maps the same functions over its chunks of samples, summing
the results: one map-reduce per read.
"""

from ._array_api import is_dask_collection, namespace
from ._moments import weighted_feature_moments
from ._objectives import loss_and_gradient_sums


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
