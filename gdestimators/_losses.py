"""Per-sample losses: what a solver or an estimator may ask of a loss.

A loss is a function ``l(z, y)`` of one sample's logits ``z`` (``k`` of them:
one per output or class) and its target. Everything the package needs of it
is named by the :class:`Loss` protocol:

* ``loss_and_residual(z, Y)``: the value and the residual ``dl/dz``, which the
  note's gradient ``(1/S) X diag(s) R^T`` multiplies by the data;
* ``curvature(z)``: the second derivative ``d^2 l / dz^2``, from which
  Hessians and Hessian products are written once for every loss;
* ``curvature_bound``: a bound on that second derivative over all ``z``,
  which sizes the first step and the preconditioner;
* ``encode_targets(y, dtype)``: targets as the rows ``Y`` the loss reads;
* ``intercept_only(Y, s)``: the best intercept when all coefficients are
  zero, where a fit starts;
* ``fenchel_young(z, Y, t)``: ``l(z) + l^*(t r) - t r^T z >= 0``, the loss's
  share of a duality gap when the dual point is the residual ``r`` scaled
  by ``t`` (:mod:`._certificate`).

Arrays are column per sample: ``z`` and ``Y`` have shape ``(k, m)``.
"""

from typing import NamedTuple, Protocol

import numpy as np

from ._array_api import namespace, to_numpy


class Curvature(NamedTuple):
    """Per-sample second derivative ``d^2 l/dz^2 = diag(d) - u u^T`` (each ``(k, k)``).

    Attributes
    ----------
    diagonal : array of shape (k, m)
        ``d``, one column per sample.
    low_rank : array of shape (k, m) or None
        ``u``, one column per sample; None when the second derivative is
        diagonal (the outputs are not coupled).
    """

    diagonal: object
    low_rank: object = None


class Loss(Protocol):
    """What solvers and estimators may ask of a per-sample loss."""

    #: Bound on the largest eigenvalue of ``d^2 l/dz^2`` over all ``z``.
    curvature_bound: float
    #: Whether ``d^2 l/dz^2`` is the same everywhere (then the bound is the
    #: Hessian itself, and a quadratic model of the objective is exact).
    constant_curvature: bool
    #: Whether the outputs are coupled (``d^2 l/dz^2`` not diagonal): a
    #: Hessian then has a block for every pair of outputs.
    coupled_outputs: bool
    #: Whether adding the same number to every output changes nothing (the
    #: Hessian is then singular along such shifts).
    shift_invariant: bool

    def loss_and_residual(self, z, Y):
        """Per-sample loss, shape ``(m,)``, and residual ``dl/dz``, shape ``(k, m)``."""

    def curvature(self, z):
        """The :class:`Curvature` ``d^2 l/dz^2`` at the logits ``z``."""

    def encode_targets(self, y, dtype):
        """Targets as rows ``Y`` of shape ``(k, m)`` and of ``dtype``."""

    def intercept_only(self, Y, s):
        """Best intercept for zero coefficients (numpy ``(k,)``), or None if infinite."""

    def fenchel_young(self, z, Y, t):
        """Per-sample ``l(z) + l^*(t r) - t r^T z`` for ``0 <= t <= 1``, shape ``(m,)``."""


def curvature_product(curvature, V):
    """Apply each sample's second derivative to the column of ``V`` ``(k, m)``."""
    product = curvature.diagonal * V
    if curvature.low_rank is None:
        return product
    u = curvature.low_rank
    return product - u * namespace(u).sum(u * V, axis=0)


class SquaredError:
    """Half squared error ``l = ||z - y||^2 / 2`` summed over the ``k`` outputs.

    Its second derivative is the identity: least squares is the quadratic
    case, on which Newton's method converges in one step.
    """

    curvature_bound = 1.0
    constant_curvature = True
    coupled_outputs = False
    shift_invariant = False

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``z - y``.

        ``Y=None`` stands for zero targets.
        """
        xp = namespace(z)
        residual = z if Y is None else z - Y
        return 0.5 * xp.sum(residual * residual, axis=0), residual

    def curvature(self, z):
        """The identity, for every sample (one row: the same for every output)."""
        return Curvature(namespace(z).ones_like(z[:1, ...]))

    def encode_targets(self, y, dtype):
        """``y`` of shape ``(m,)`` or ``(m, k)`` as rows ``(k, m)`` (its namespace)."""
        xp = namespace(y)
        Y = xp.astype(y, dtype)
        return Y[None, :] if Y.ndim == 1 else Y.T

    def intercept_only(self, Y, s):
        """The weighted mean of each target."""
        return to_numpy((Y @ s) / namespace(Y).sum(s)).astype(np.float64)

    def fenchel_young(self, z, Y, t):
        """``(1 - t)^2 ||r||^2 / 2``, with ``l^*(u) = ||u||^2 / 2 + u^T y``."""
        residual = z - Y
        return 0.5 * (1.0 - t) ** 2 * namespace(z).sum(residual * residual, axis=0)


def _softplus(z, xp):
    # log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|)).
    return xp.clip(z, min=0) + xp.log1p(xp.exp(-xp.abs(z)))


def sigmoid(z):
    """Numerically stable logistic function :math:`\\sigma(z) = 1/(1+e^{-z})`."""
    xp = namespace(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sum_exp(z):
    """``log(sum(exp(z), axis=0))`` of a ``(K, m)`` array, without overflow."""
    xp = namespace(z)
    z_max = xp.max(z, axis=0)
    return z_max + xp.log(xp.sum(xp.exp(z - z_max), axis=0))


def softmax(z):
    """Column-wise softmax of a ``(K, m)`` array, without overflow."""
    xp = namespace(z)
    exp_z = xp.exp(z - xp.max(z, axis=0))
    return exp_z / xp.sum(exp_z, axis=0)


def _relative_entropy(p, log_q, xp):
    """``sum_c p_c (log p_c - log q_c)`` per column, with ``0 log 0 = 0``."""
    safe = xp.where(p > 0, p, xp.ones_like(p))
    return xp.sum(xp.where(p > 0, p * (xp.log(safe) - log_q), xp.zeros_like(p)), axis=0)


def _class_shares(Y, s):
    """Weighted share of each class (numpy, float64), from rows ``Y``."""
    share = to_numpy((Y @ s) / namespace(Y).sum(s)).astype(np.float64)
    return np.concatenate([1.0 - share, share]) if Y.shape[0] == 1 else share


class BinaryLogistic:
    """The note's cross-entropy ``-y log a - (1 - y) log(1 - a)``, ``a = sigma(z)``.

    Written as ``softplus(z) - y z``, which is the same function without the
    overflow of ``log(a)`` for large ``|z|``. ``Y`` holds 0 and 1, shape
    ``(1, m)``; the second derivative is ``a (1 - a) <= 1/4``.
    """

    curvature_bound = 0.25
    constant_curvature = False
    coupled_outputs = False
    shift_invariant = False

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``a - y``."""
        xp = namespace(z)
        loss = (_softplus(z, xp) - Y * z)[0, ...]
        return loss, sigmoid(z) - Y

    def curvature(self, z):
        """``a (1 - a)``, written as ``sigma(z) sigma(-z)`` to keep its tiny values."""
        return Curvature(sigmoid(z) * sigmoid(-z))

    def encode_targets(self, y, dtype):
        """Class indices 0/1 ``(m,)`` (numpy) as the row ``(1, m)`` of 0.0 and 1.0."""
        return (np.asarray(y) == 1).astype(dtype)[None, :]

    def intercept_only(self, Y, s):
        """The log-odds of the weighted class shares; None if a class has no weight."""
        share = _class_shares(Y, s)
        if not np.all(share > 0):
            return None
        return np.log(share[1:]) - np.log(share[:1])

    def fenchel_young(self, z, Y, t):
        """The relative entropy of ``p = y + t (a - y)`` to ``a = sigma(z)``.

        ``l^*(u) = p log p + (1 - p) log(1 - p)`` with ``p = y + u``.
        """
        xp = namespace(z)
        p = Y + t * (sigmoid(z) - Y)
        # log a = -softplus(-z), log(1 - a) = -softplus(z).
        both = xp.concat([p, 1.0 - p], axis=0)
        log_q = xp.concat([-_softplus(-z, xp), -_softplus(z, xp)], axis=0)
        return _relative_entropy(both, log_q, xp)


class Multinomial:
    """Softmax cross-entropy over ``K`` classes: ``l = logsumexp(z) - z_y``.

    ``Y`` is one-hot of shape ``(K, m)``; the residual is ``A - Y`` with
    ``A = softmax(z)``, the note's ``a - y`` row by row. The second derivative
    is ``diag(a) - a a^T``, bounded by ``I / 2`` (Böhning's bound).

    Parameters
    ----------
    n_classes : int
        ``K``, the number of rows of the one-hot targets.
    """

    curvature_bound = 0.5
    constant_curvature = False
    coupled_outputs = True
    #: Adding the same number to every class's logit changes nothing.
    shift_invariant = True

    def __init__(self, n_classes):
        self.n_classes = n_classes

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``A - Y``."""
        xp = namespace(z)
        lse = log_sum_exp(z)
        loss = lse - xp.sum(Y * z, axis=0)
        return loss, xp.exp(z - lse) - Y

    def curvature(self, z):
        """``diag(a) - a a^T`` with ``a = softmax(z)``."""
        probabilities = softmax(z)
        return Curvature(probabilities, probabilities)

    def encode_targets(self, y, dtype):
        """Class indices ``(m,)`` (numpy) as one-hot rows ``(K, m)``."""
        y = np.asarray(y)
        Y = np.zeros((self.n_classes, y.shape[0]), dtype=dtype)
        Y[y, np.arange(y.shape[0])] = 1.0
        return Y

    def intercept_only(self, Y, s):
        """Centred log class shares; None if a class has no weight.

        Softmax is blind to a common shift of the logits: centring picks the
        shift-free representative.
        """
        share = _class_shares(Y, s)
        if not np.all(share > 0):
            return None
        log_share = np.log(share)
        return log_share - np.mean(log_share)

    def fenchel_young(self, z, Y, t):
        """The relative entropy of ``p = y + t (a - y)`` to ``a = softmax(z)``.

        ``l^*(u) = sum_c p_c log p_c`` with ``p = y + u`` in the simplex.
        """
        xp = namespace(z)
        log_a = z - log_sum_exp(z)
        return _relative_entropy(Y + t * (xp.exp(log_a) - Y), log_a, xp)


def classification_loss(n_classes):
    """The loss for ``n_classes`` classes: sigmoid for two, softmax for more."""
    return BinaryLogistic() if n_classes == 2 else Multinomial(n_classes)
