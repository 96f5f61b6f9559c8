"""The note's formulas: predictions, the cost J and its gradients.

This module is ``note-computing-gradients.md`` written in code. Data are held
column-per-sample, exactly as in the note: scikit-learn's ``X`` of shape
``(m, n_features)`` is used through its transpose ``XT = X.T`` (a view for
numpy arrays, a CSC view of a CSR matrix), never through a copy.

Symbol table (note -> code)
---------------------------
============================  =====================================  ==================
note                          code                                   shape
============================  =====================================  ==================
:math:`X`                     ``XT``                                 ``(n_features, m)``
:math:`y`                     ``Y`` (one row per output / class)     ``(k, m)``
:math:`w`                     ``w`` (one column per output / class)  ``(n_features, k)``
:math:`b`                     ``b``                                  ``(k,)``
:math:`h = w^T X + b`         ``z = w.T @ XT + b[:, None]``          ``(k, m)``
:math:`a = \\sigma(z)`         ``a``                                  ``(k, m)``
:math:`m`                     ``S = sum(s)`` (``m`` when ``s = 1``)  scalar
:math:`J`                     ``J``                                  scalar
:math:`(1/m) X (h - y)^T`     ``XT @ (R * s).T / S``                 ``(n_features, k)``
:math:`(1/m) \\sum (h - y)`    ``(R * s).sum(axis=1) / S``            ``(k,)``
============================  =====================================  ==================

Here ``R = dJ/dz`` times ``S / s`` is the per-sample residual: ``h - y`` for the
squared loss, ``a - y`` for the logistic and softmax losses (one-hot ``Y``).
Sample weights ``s`` generalise the note's mean: ``J = (1/S) sum_i s_i l_i``, so
an integer weight acts exactly like a repeated column of ``X``.

Three losses are provided, each a direct extension of the note:

* :class:`SquaredError` -- the note's linear regression, ``l = |h - y|^2 / 2``,
  with ``k`` outputs at once;
* :class:`BinaryLogistic` -- the note's logistic regression;
* :class:`Multinomial` -- softmax over ``K`` classes, the same gradient
  ``A - Y`` with one-hot ``Y``.
"""

import numpy as np
import scipy.sparse as sp

from ._array_api import array_device, namespace, to_float

# Bytes of X processed per block: small enough for the block to stay in the
# CPU cache between the forward product and the gradient product, so that one
# evaluation of J and its gradient streams X from memory once.
_BLOCK_BYTES = 2**21


class SquaredError:
    """Half squared error ``l = ||h - y||^2 / 2`` summed over the ``k`` outputs.

    ``curvature`` bounds the second derivative of ``l`` in ``z``.
    """

    curvature = 1.0

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``h - y``."""
        xp = namespace(z)
        residual = z if Y is None else z - Y
        return 0.5 * xp.sum(residual * residual, axis=0), residual


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


class BinaryLogistic:
    """The note's cross-entropy ``-y log a - (1 - y) log(1 - a)``, ``a = sigma(z)``.

    Written as ``softplus(z) - y z``, which is the same function without the
    overflow of ``log(a)`` for large ``|z|``. ``Y`` holds 0 and 1, shape ``(1, m)``.
    """

    curvature = 0.25

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``a - y``."""
        xp = namespace(z)
        loss = (_softplus(z, xp) - Y * z)[0, ...]
        return loss, sigmoid(z) - Y


class Multinomial:
    """Softmax cross-entropy over ``K`` classes: ``l = logsumexp(z) - z_y``.

    ``Y`` is one-hot of shape ``(K, m)``; the residual is ``A - Y`` with
    ``A = softmax(z)``, the note's ``a - y`` row by row. The Hessian of ``l`` in
    ``z`` is bounded by ``I / 2`` (Böhning's bound), hence ``curvature``.
    """

    curvature = 0.5

    def loss_and_residual(self, z, Y):
        """Return the per-sample loss ``(m,)`` and the residual ``A - Y``."""
        xp = namespace(z)
        lse = log_sum_exp(z)
        loss = lse - xp.sum(Y * z, axis=0)
        return loss, xp.exp(z - lse) - Y


def predict(XT, w, b):
    """The note's ``h = w^T X + b``, shape ``(k, m)``."""
    z = _as_dense(w.T @ XT)
    return z + b[:, None]


def _as_dense(product):
    # dense @ sparse returns a numpy matrix for scipy's spmatrix classes.
    return np.asarray(product) if isinstance(product, np.matrix) else product


def _sample_blocks(XT):
    """Slices of columns (samples) of ``XT`` that fit ``_BLOCK_BYTES``.

    Only numpy arrays are blocked: sparse matrices and device arrays are
    processed whole (``slice(None)``; slicing a sparse matrix would copy it).
    """
    n_features, m = XT.shape
    if sp.issparse(XT) or not isinstance(XT, np.ndarray):
        return [slice(None)]
    step = max(256, _BLOCK_BYTES // max(1, n_features * XT.itemsize))
    if step >= m:
        return [slice(None)]
    return [slice(start, min(start + step, m)) for start in range(0, m, step)]


def loss_and_gradient(XT, Y, s, w, b, loss):
    """The cost ``J`` and the note's gradients, in one pass over ``X``.

    Parameters
    ----------
    XT : array or sparse matrix of shape (n_features, m)
        The data, one column per sample.
    Y : array of shape (k, m) or None
        Targets (one-hot for :class:`Multinomial`); ``None`` means zeros
        (:class:`SquaredError` only).
    s : array of shape (m,)
        Sample weights, non-negative with a positive sum ``S``.
    w : array of shape (n_features, k)
        Coefficients.
    b : array of shape (k,)
        Intercepts.
    loss : SquaredError, BinaryLogistic or Multinomial
        The per-sample loss.

    Returns
    -------
    J : float
        ``(1/S) sum_i s_i l_i``.
    grad_w : array of shape (n_features, k)
        ``(1/S) X diag(s) R^T``, the note's ``(1/m) X (h - y)^T``.
    grad_b : array of shape (k,)
        ``(1/S) R s``, the note's ``(1/m) sum(h - y)``.
    """
    S = namespace(w).sum(s)
    J, grad_w, grad_b = loss_and_gradient_sums(XT, Y, s, w, b, loss)
    return to_float(J / S), grad_w / S, grad_b / S


def loss_and_gradient_sums(XT, Y, s, w, b, loss):
    """:func:`loss_and_gradient` before the division by ``S``.

    Sums over samples add up over any split of the samples: this is the
    per-chunk map of a map-reduce over data held in chunks (see
    :mod:`._dask`). Same parameters as :func:`loss_and_gradient`; returns
    ``sum_i s_i l_i`` (a 0-d array), ``X diag(s) R^T`` and ``R s``.
    """
    xp = namespace(w)
    J = xp.zeros((), dtype=w.dtype, device=array_device(w))
    grad_w = xp.zeros_like(w)
    grad_b = xp.zeros_like(b)
    for block in _sample_blocks(XT):
        if block == slice(None):
            XT_block, Y_block, s_block = XT, Y, s
        else:
            XT_block, s_block = XT[:, block], s[block]
            Y_block = None if Y is None else Y[:, block]
        z = predict(XT_block, w, b)
        per_sample_loss, residual = loss.loss_and_residual(z, Y_block)
        weighted_residual = residual * s_block
        J += xp.sum(per_sample_loss * s_block)
        grad_w += _as_dense(XT_block @ weighted_residual.T)
        grad_b += xp.sum(weighted_residual, axis=1)
    return J, grad_w, grad_b
