"""The gradient formulas for many models at once: one pass over X serves them all.

Cross-validation fits one model per (fold, penalty). Their coefficients are
the columns of one matrix ``W`` of shape ``(n_features, M k)`` (``M`` models,
``k`` outputs or classes each), so that one evaluation of every model's cost
and gradient is one product ``W^T X`` and one product ``X diag(s_j) R_j^T``
with a wider ``W``: the note's formulas of :mod:`._objectives`, column per
model. Fold membership is a per-model sample weight: model ``j`` of fold
``f`` weighs sample ``i`` by ``s_fi``, zero for the rows held out of ``f``
(and ``class_weight`` computed on ``f``'s training rows). A weight of zero
makes a row count exactly as if it were absent, so every model minimises its
own fold's objective.

Shapes (column per sample, as in :mod:`._objectives`):

=======================  ================================  ====================
symbol                   code                              shape
=======================  ================================  ====================
coefficients             ``w``                             ``(n_features, M, k)``
intercepts               ``b``                             ``(M, k)``
fold weights             ``fold_weights``                  ``(n_folds, m)``
fold of each model       ``model_folds``                   ``(M,)`` integers
logits of a block        ``z``                             ``(M, k, rows)``
=======================  ================================  ====================

``X`` is read in blocks of rows (:func:`row_blocks`), sized so that the
``(M k, rows)`` intermediates stay cache-sized whatever ``M``; sparse ``X``
(CSR) is sliced by rows, never densified.
"""

import numpy as np
import scipy.sparse as sp

from ._array_api import array_device, namespace
from ._blocks import BLOCK_BYTES, MIN_BLOCK_SAMPLES

#: Bytes of the ``(M k, rows)`` logits of one block: a few cache-sized blocks.
_LOGIT_BLOCK_BYTES = 4 * BLOCK_BYTES
#: Stored entries of a sparse X per block.
_SPARSE_BLOCK_NNZ = 2**18


def row_blocks(X, n_columns):
    """Slices of rows of ``X`` such that a block and its logits stay cache-sized.

    Parameters
    ----------
    X : array or CSR matrix of shape (m, n_features)
        The data, one row per sample.
    n_columns : int
        ``M k``, the number of logit rows computed per sample.

    Returns
    -------
    blocks : list of slice
        Consecutive slices covering ``range(m)``; one slice for arrays that
        are not numpy (a device runs one large product faster).
    """
    m = X.shape[0]
    if not (sp.issparse(X) or isinstance(X, np.ndarray)):
        return [slice(0, m)]
    itemsize = np.dtype(X.dtype).itemsize
    by_logits = _LOGIT_BLOCK_BYTES // max(1, n_columns * itemsize)
    if sp.issparse(X):
        by_data = int(_SPARSE_BLOCK_NNZ * m / max(X.nnz, 1))
    else:
        by_data = BLOCK_BYTES // max(1, X.shape[1] * itemsize)
    rows = max(MIN_BLOCK_SAMPLES, min(by_logits, by_data))
    return [slice(start, min(start + rows, m)) for start in range(0, m, rows)]


def row_block(X, block):
    """Rows ``block`` of ``X`` (a view for arrays, a small copy for CSR)."""
    if sp.issparse(X):
        return X[block]
    return X[block, ...]


def batched_predict(X_block, w, b):
    """Every model's logits on a block of rows: shape ``(M, k, rows)``."""
    xp = namespace(w)
    n_features, n_models, k = w.shape
    z = xp.reshape(w, (n_features, n_models * k)).T @ X_block.T
    if isinstance(z, np.matrix):
        z = np.asarray(z)
    return xp.reshape(z, (n_models, k, -1)) + b[:, :, None]


def per_model_loss_and_residual(loss, z, Y):
    """The loss of every model on every sample, through the one-model :class:`Loss`.

    The models are laid side by side as extra samples (``(k, M rows)``), so
    that each loss keeps its single definition in :mod:`._losses` and every
    model sees exactly the arithmetic of a single fit.

    Parameters
    ----------
    loss : Loss
        The per-sample loss.
    z : array of shape (M, k, rows)
        Logits.
    Y : array of shape (k, rows) or None
        Targets, shared by all models.

    Returns
    -------
    per_sample_loss : array of shape (M, rows)
    residual : array of shape (M, k, rows)
    """
    xp = namespace(z)
    n_models, k, rows = z.shape
    side_by_side = xp.reshape(xp.permute_dims(z, (1, 0, 2)), (k, n_models * rows))
    if Y is not None:
        Y = xp.reshape(xp.broadcast_to(Y[:, None, :], (k, n_models, rows)),
                       (k, n_models * rows))
    per_sample_loss, residual = loss.loss_and_residual(side_by_side, Y)
    residual = xp.permute_dims(xp.reshape(residual, (k, n_models, rows)), (1, 0, 2))
    return xp.reshape(per_sample_loss, (n_models, rows)), residual


def batched_loss_and_gradient_sums(X, Y, fold_weights, model_folds, w, b, loss):
    """Every model's weighted sums behind ``J`` and its gradients, in one pass over ``X``.

    Dividing model ``j``'s results by its fold's total weight gives its
    ``J``, ``grad_w J`` and ``grad_b J`` (:func:`._objectives.loss_and_gradient_sums`
    with the fold's weights). Sums over samples add up over any split of the
    rows: this is also the per-chunk map of a map-reduce (:mod:`._dask`).

    Parameters
    ----------
    X : array or CSR matrix of shape (m, n_features)
        The data, one row per sample (read through ``X_block.T``).
    Y : array of shape (k, m)
        Targets, shared by all models.
    fold_weights : array of shape (n_folds, m)
        Sample weights of each fold's training set (zero on its held-out rows).
    model_folds : integer array of shape (M,)
        The fold of each model, in ``fold_weights``'s namespace.
    w : array of shape (n_features, M, k)
        Coefficients.
    b : array of shape (M, k)
        Intercepts.
    loss : Loss
        The per-sample loss (:mod:`._losses`).

    Returns
    -------
    weighted_loss : array of shape (M,)
        ``sum_i s_ji l_ji``.
    weighted_gradient_w : array of shape (n_features, M, k)
        ``X diag(s_j) R_j^T``.
    weighted_gradient_b : array of shape (M, k)
        ``R_j s_j``.
    """
    xp = namespace(w)
    n_features, n_models, k = w.shape
    J = xp.zeros((n_models,), dtype=w.dtype, device=array_device(w))
    grad_w = xp.zeros((n_features, n_models * k), dtype=w.dtype, device=array_device(w))
    grad_b = xp.zeros((n_models, k), dtype=w.dtype, device=array_device(w))
    for block in row_blocks(X, n_models * k):
        X_block = row_block(X, block)
        s = xp.take(fold_weights[:, block], model_folds, axis=0)
        z = batched_predict(X_block, w, b)
        per_sample_loss, residual = per_model_loss_and_residual(loss, z, Y[:, block])
        weighted_residual = residual * s[:, None, :]
        J += xp.sum(per_sample_loss * s, axis=1)
        product = X_block.T @ xp.reshape(weighted_residual, (n_models * k, -1)).T
        grad_w += np.asarray(product) if isinstance(product, np.matrix) else product
        grad_b += xp.sum(weighted_residual, axis=2)
    return J, xp.reshape(grad_w, (n_features, n_models, k)), grad_b


def batched_loss_gradient_hessian_sums(X, Y, fold_weights, model_folds, w, b, loss, *,
                                       center, scale, intercept_scale, fit_intercept):
    """:func:`batched_loss_and_gradient_sums` plus every model's Hessian sums, in one pass.

    Each model's Hessian blocks are those of
    :func:`._hessian.loss_gradient_hessian_sums` with its fold's weights, in
    the centred and scaled coordinates given (the same for every model):
    ``A^T diag(s_j d^2 l / dz_c dz_c') A`` with ``A = [(X - mu) D, d_c 1]``.
    A block of rows is centred and scaled once for all models.

    Returns
    -------
    weighted_loss, weighted_gradient_w, weighted_gradient_b
        As :func:`batched_loss_and_gradient_sums`.
    hessians : list of dict
        One per model, ``{(c, c'): array (p, p)}`` as
        :func:`._hessian.loss_gradient_hessian_sums`.
    """
    from ._hessian import _design_block, _pairs, _weighted_gram_dense, _weighted_gram_sparse

    xp = namespace(w)
    n_features, n_models, k = w.shape
    J = xp.zeros((n_models,), dtype=w.dtype, device=array_device(w))
    grad_w = xp.zeros((n_features, n_models * k), dtype=w.dtype, device=array_device(w))
    grad_b = xp.zeros((n_models, k), dtype=w.dtype, device=array_device(w))
    hessians = [{} for _ in range(n_models)]
    for block in row_blocks(X, n_models * k):
        X_block = row_block(X, block)
        s = xp.take(fold_weights[:, block], model_folds, axis=0)
        z = batched_predict(X_block, w, b)
        per_sample_loss, residual = per_model_loss_and_residual(loss, z, Y[:, block])
        weighted_residual = residual * s[:, None, :]
        J += xp.sum(per_sample_loss * s, axis=1)
        product = X_block.T @ xp.reshape(weighted_residual, (n_models * k, -1)).T
        grad_w += np.asarray(product) if isinstance(product, np.matrix) else product
        grad_b += xp.sum(weighted_residual, axis=2)
        design = None
        for j in range(n_models):
            for c, c2, weights in _pairs(loss.curvature(z[j, ...]), k):
                q = s[j, ...] * weights
                if sp.issparse(X_block):
                    gram = _weighted_gram_sparse(X_block.T, q, center, scale, intercept_scale,
                                                 fit_intercept)
                else:
                    if design is None:
                        design = _design_block(X_block.T, center, scale, intercept_scale,
                                               fit_intercept)
                    gram = _weighted_gram_dense(design, q)
                blocks = hessians[j]
                blocks[c, c2] = gram if (c, c2) not in blocks else blocks[c, c2] + gram
    return J, xp.reshape(grad_w, (n_features, n_models, k)), grad_b, hessians


def batched_logits(X, w, b):
    """Every model's logits on every row of ``X``: shape ``(M, k, m)``, read in blocks."""
    xp = namespace(w)
    n_models, k = w.shape[1], w.shape[2]
    pieces = [batched_predict(row_block(X, block), w, b) for block in row_blocks(X, n_models * k)]
    if not pieces:
        return xp.zeros((n_models, k, 0), dtype=w.dtype, device=array_device(w))
    return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=2)


def held_out_logits(X, rows, w, b):
    """Logits of the models ``w``, ``b`` on the rows ``rows`` of ``X``.

    The rows are read in blocks (a block-sized copy at a time), so that the
    held-out rows of a fold are never copied whole.

    Parameters
    ----------
    X : array or CSR matrix of shape (m, n_features)
        The data.
    rows : ndarray of int of shape (n_rows,)
        Row indices (numpy, sorted).
    w : array of shape (n_features, M, k)
        Coefficients of the models.
    b : array of shape (M, k)
        Intercepts.

    Returns
    -------
    z : array of shape (M, k, n_rows)
        In ``w``'s namespace.
    """
    xp = namespace(w)
    n_models, k = w.shape[1], w.shape[2]
    pieces = []
    size = max(1, _rows_per_block(X, n_models * k))
    for start in range(0, rows.shape[0], size):
        index = rows[start:start + size]
        if sp.issparse(X) or isinstance(X, np.ndarray):
            X_block = X[index]
        else:
            X_block = xp.take(X, xp.asarray(index, device=array_device(X)), axis=0)
        pieces.append(batched_predict(X_block, w, b))
    if not pieces:
        return xp.zeros((n_models, k, 0), dtype=w.dtype, device=array_device(w))
    return xp.concat(pieces, axis=2)


def _rows_per_block(X, n_columns):
    """Rows per block of :func:`row_blocks` for ``X`` (all rows for device arrays)."""
    blocks = row_blocks(X, n_columns)
    return blocks[0].stop - blocks[0].start if blocks else 1
