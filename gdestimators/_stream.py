"""``partial_fit``'s stream: its data set, its coordinates and its solver state.

The data set of a stream is the set of distinct batches passed to
``partial_fit`` so far. A batch is identified by a digest of its contents
(``X``, the targets and the sample weights, byte for byte): passing the same
batch again is another pass over data already counted, not new data. So the
objective ``partial_fit`` minimises is the one ``fit`` would minimise on the
concatenation of the distinct batches, with the same parameters, however
many passes are made; only a 16-byte digest and a weight are kept per batch,
nothing per sample.
"""

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._array_api import namespace, numpy_float_dtype, to_float, to_numpy
from ._moments import RunningMoments
from ._preconditioning import Preconditioner, make_preconditioner
from ._samples import make_samples
from ._solvers import StreamingNewton
from ._solvers._auto import MAX_NEWTON_SIZE

#: Solvers whose ``partial_fit`` takes one gradient step per batch; the others
#: use the Newton-type stream (:class:`._solvers.StreamingNewton`).
FIRST_ORDER_SOLVERS = frozenset({"gd", "nesterov", "bb"})


def batch_digest(X, y, sample_weight):
    """A 16-byte digest of a batch: its shape, dtype, ``X``, ``y`` and weights, byte for byte.

    ``X`` may be dense in any namespace (copied to the host to be read) or
    scipy sparse (its stored entries and their positions).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((X.shape, str(numpy_float_dtype(X)), sp.issparse(X))).encode())
    if sp.issparse(X):
        X = sp.csr_array(X)
        parts = [X.indptr, X.indices, X.data]
    else:
        parts = [X]
    for part in [*parts, y, sample_weight]:
        digest.update(np.ascontiguousarray(to_numpy(part)).tobytes())
    return digest.digest()


@dataclass
class Stream:
    """What ``partial_fit`` keeps between calls.

    Attributes
    ----------
    batches : dict
        The data set: the weight of each distinct batch, by digest.
    data_weight : float
        The data set's total weight.
    n_calls : int
        Calls so far (``n_iter_``).
    objectives : list of float
        Each call's batch objective (``loss_curve_``).
    coordinates : Preconditioner or None
        The Newton-type stream's fixed change of variables (centering and
        scaling of the first batch); None for the first-order stream, whose
        scaling follows the running moments of all batches.
    newton : StreamingNewton or None
        The Newton-type stream's state.
    moments : RunningMoments or None
        The first-order stream's running feature moments.
    base_step : float or None
        The first-order stream's first step size.
    """

    batches: dict = field(default_factory=dict)
    data_weight: float = 0.0
    n_calls: int = 0
    objectives: list = field(default_factory=list)
    coordinates: Preconditioner = None
    newton: StreamingNewton = None
    moments: RunningMoments = None
    base_step: float = None

    def register(self, key, weight):
        """``(new, data_weight)`` for a batch, without recording it yet."""
        new = key not in self.batches
        return new, self.data_weight + (weight if new else 0.0)

    def commit(self, key, weight, objective):
        """Record a processed batch and its objective."""
        if key not in self.batches:
            self.batches[key] = weight
            self.data_weight += weight
        self.n_calls += 1
        self.objectives.append(objective)

    @property
    def mean_batch_weight(self):
        """The data set's weight per distinct batch."""
        return self.data_weight / max(len(self.batches), 1)


def start_stream(estimator, X, Y, sample_weight, settings, tol):
    """A new :class:`Stream` for ``estimator``, its kind chosen from the first batch.

    The Newton-type stream fixes its coordinates on the first batch: its
    feature means and spreads (as ``precondition="diagonal"``; rotation is
    left to the Hessian, and an L1 part needs separate coordinates), or
    none with ``precondition="none"``.
    """
    n_rows = X.shape[1] + int(estimator.fit_intercept)
    newton_type = (estimator.solver not in FIRST_ORDER_SOLVERS
                   and n_rows * Y.shape[0] <= MAX_NEWTON_SIZE)
    if not newton_type:
        return Stream(moments=RunningMoments(X.shape[1]))
    kind = "none" if estimator.precondition == "none" else "diagonal"
    coordinates = make_preconditioner(
        make_samples(X, Y, sample_weight), fit_intercept=estimator.fit_intercept,
        curvature=settings.loss.curvature_bound, l2_strength=settings.l2_strength,
        kind=kind,
    )
    return Stream(coordinates=coordinates, newton=StreamingNewton(tol))


def batch_weight(sample_weight):
    """The total weight of a batch, a float."""
    return to_float(namespace(sample_weight).sum(sample_weight))
