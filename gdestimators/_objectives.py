"""The gradient formulas, column per sample: predictions, the cost J and its gradients.

Data are held column per sample: scikit-learn's ``X`` of shape
``(m, n_features)`` is used through its transpose ``XT = X.T`` (a view for
numpy arrays, a CSC view of a CSR matrix), never through a copy. For one
output, unit weights and ``h = w^T X + b``, the cost of linear regression
``J = 1/(2m) ||h - y||^2`` has the gradients

.. math::

    \\nabla_w J = \\frac{1}{m} X (h - y)^T, \\qquad
    \\nabla_b J = \\frac{1}{m} \\sum_{i=1}^m (h_i - y_i),

and the cross-entropy of logistic regression the same ones with ``h - y``
replaced by ``a - y``, ``a = sigma(h)`` (the chain rule through the sigmoid
cancels its derivative). Everything here generalises these two lines.

Symbol table (formula -> code)
------------------------------
============================  =====================================  ==================
formula                       code                                   shape
============================  =====================================  ==================
:math:`X`                     ``XT``                                 ``(n_features, m)``
:math:`y`                     ``Y`` (one row per output / class)     ``(k, m)``
:math:`w`                     ``w`` (one column per output / class)  ``(n_features, k)``
:math:`b`                     ``b``                                  ``(k,)``
:math:`h = w^T X + b`         ``z = w.T @ XT + b[:, None]``          ``(k, m)``
:math:`m`                     ``S = sum(s)`` (``m`` when ``s = 1``)  scalar
:math:`J`                     ``J``                                  scalar
:math:`(1/m) X (h - y)^T`     ``XT @ (R * s).T / S``                 ``(n_features, k)``
:math:`(1/m) \\sum (h - y)`    ``(R * s).sum(axis=1) / S``            ``(k,)``
============================  =====================================  ==================

Here ``R = dl/dz`` is the per-sample residual given by the loss
(:mod:`._losses`): ``h - y`` for the squared loss, ``a - y`` for the logistic
and softmax losses (one-hot ``Y``). Sample weights ``s`` generalise the mean:
``J = (1/S) sum_i s_i l_i``, so an integer weight acts exactly like a
repeated column of ``X``.
"""

import numpy as np

from ._array_api import array_device, namespace
from ._blocks import sample_blocks


def predict(XT, w, b):
    """The linear predictions ``h = w^T X + b``, shape ``(k, m)``."""
    z = _as_dense(w.T @ XT)
    return z + b[:, None]


def _as_dense(product):
    # dense @ sparse returns a numpy matrix for scipy's spmatrix classes.
    return np.asarray(product) if isinstance(product, np.matrix) else product


def loss_and_gradient_sums(XT, Y, s, w, b, loss):
    """The weighted sums behind ``J`` and its gradients, in one pass over ``X``.

    Dividing the three results by ``S = sum(s)`` gives ``J``, ``grad_w J`` and
    ``grad_b J``. Sums over samples add up over any split of the samples:
    this is also the per-chunk map of a map-reduce over data held in chunks
    (:mod:`._dask`).

    Parameters
    ----------
    XT : array or sparse matrix of shape (n_features, m)
        The data, one column per sample.
    Y : array of shape (k, m) or None
        Targets (one-hot for the softmax loss); ``None`` means zeros
        (:class:`._losses.SquaredError` only).
    s : array of shape (m,)
        Non-negative sample weights.
    w : array of shape (n_features, k)
        Coefficients.
    b : array of shape (k,)
        Intercepts.
    loss : Loss
        The per-sample loss (:mod:`._losses`).

    Returns
    -------
    weighted_loss : 0-d array
        ``sum_i s_i l_i``.
    weighted_gradient_w : array of shape (n_features, k)
        ``X diag(s) R^T``.
    weighted_gradient_b : array of shape (k,)
        ``R s``.
    """
    xp = namespace(w)
    J = xp.zeros((), dtype=w.dtype, device=array_device(w))
    grad_w = xp.zeros_like(w)
    grad_b = xp.zeros_like(b)
    for block in sample_blocks(XT):
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
