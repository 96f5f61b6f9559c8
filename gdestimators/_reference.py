"""Independent reference objectives, written plainly with numpy and scipy.

The estimators' own objective code is built for speed (column-per-sample
blocks, a change of variables, arrays of any namespace). The functions here
compute the same objectives the plain way, in float64, from scikit-learn's
row-per-sample layout and fitted attributes, so that tests, benchmarks and
the report (``python -m gdestimators``) can judge a fit by something that
shares no code with it. Nothing here imports the rest of the package.

Both objectives are in the estimators' documented mean form:

.. math::

    F_{\\text{linear}}(W, b) = \\frac{1}{2S} \\sum_i s_i \\lVert W x_i + b - y_i \\rVert^2
        + \\alpha \\Big(\\frac{1 - \\rho}{2} \\lVert W \\rVert_F^2 + \\rho \\lVert W \\rVert_1\\Big)

.. math::

    F_{\\text{logistic}}(W, b) = \\frac{1}{S} \\sum_i s_i \\, l_i(W x_i + b)
        + \\frac{1}{C S} \\Big(\\frac{1 - \\rho}{2} \\lVert W \\rVert_F^2
        + \\rho \\lVert W \\rVert_1\\Big)

with :math:`S = \\sum_i s_i`, :math:`\\rho` = ``l1_ratio``, and :math:`l_i` the
cross-entropy: ``log(1 + e^z) - y z`` for one coefficient row (two classes,
``y = 1`` for the larger label), ``logsumexp(z) - z_y`` for ``K`` rows. The
logistic one is scikit-learn's ``LogisticRegression`` objective divided by
``C S``: the same minimiser, finite for ``C = inf``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logsumexp

#: Rows of X converted to float64 at a time (bounds the memory of a copy).
_BLOCK_ROWS = 65536


def _row_blocks(X):
    """``(start, block)`` pairs of successive float64 row blocks of ``X``."""
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        block = X[start:start + _BLOCK_ROWS]
        if sp.issparse(block):
            yield start, sp.csr_array(block, dtype=np.float64)
        else:
            yield start, np.asarray(block, dtype=np.float64)


def _weights(sample_weight, n_samples):
    if sample_weight is None:
        return np.ones(n_samples)
    return np.asarray(sample_weight, dtype=np.float64)


def elastic_net_penalty(coef, l1_ratio=0.0):
    """``(1 - l1_ratio)/2 ||W||^2 + l1_ratio ||W||_1`` (the intercept excluded)."""
    coef = np.asarray(coef, dtype=np.float64)
    return 0.5 * (1.0 - l1_ratio) * float(np.sum(coef**2)) + l1_ratio * float(
        np.sum(np.abs(coef))
    )


def least_squares_objective(X, y, coef, intercept, *, alpha=0.0, l1_ratio=0.0,
                            sample_weight=None):
    """Mean-form elastic-net least squares (scikit-learn's ``ElasticNet``).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Features, one row per sample.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    coef : array-like of shape (n_features,) or (n_targets, n_features)
        Coefficients ``W`` (``coef_``).
    intercept : float or array-like of shape (n_targets,)
        Intercepts ``b`` (``intercept_``).
    alpha, l1_ratio : float, default=0.0
        Penalty ``alpha * elastic_net_penalty(W, l1_ratio)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights ``s``; ones by default.

    Returns
    -------
    objective : float
    """
    y = np.asarray(y, dtype=np.float64)
    Y = y[:, None] if y.ndim == 1 else y
    W = np.asarray(coef, dtype=np.float64).reshape(Y.shape[1], -1)
    b = np.broadcast_to(np.asarray(intercept, dtype=np.float64).ravel(), (Y.shape[1],))
    s = _weights(sample_weight, X.shape[0])
    total = 0.0
    for start, block in _row_blocks(X):
        stop = start + block.shape[0]
        residual = np.asarray(block @ W.T) + b - Y[start:stop]
        total += float(s[start:stop] @ np.sum(residual**2, axis=1))
    return 0.5 * total / float(np.sum(s)) + alpha * elastic_net_penalty(W, l1_ratio)


def class_indices(y, classes=None):
    """Index of each label in ``classes`` (the sorted unique labels by default)."""
    y = np.asarray(y)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    return np.searchsorted(classes, y)


def log_loss_objective(X, y, coef, intercept, *, C=1.0, l1_ratio=0.0,
                       sample_weight=None, classes=None):
    """Mean-form penalised cross-entropy (scikit-learn's ``LogisticRegression``).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Features, one row per sample.
    y : array-like of shape (n_samples,)
        Class labels (any type), or their indices when ``classes`` is
        ``range(K)``.
    coef : array-like of shape (1, n_features) or (K, n_features)
        One row: the binary model; ``K`` rows: the multinomial one.
    intercept : array-like of shape (1,) or (K,)
        Intercepts.
    C : float, default=1.0
        Inverse penalty strength; ``np.inf`` for none.
    l1_ratio : float, default=0.0
        L1 share of the penalty.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights ``s``, class weights already multiplied in; ones by default.
    classes : array-like, default=None
        The labels in order; ``np.unique(y)`` by default.

    Returns
    -------
    objective : float
    """
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    b = np.asarray(intercept, dtype=np.float64).ravel()
    index = class_indices(y, classes)
    s = _weights(sample_weight, X.shape[0])
    total = 0.0
    for start, block in _row_blocks(X):
        stop = start + block.shape[0]
        Z = np.asarray(block @ W.T) + b
        labels = index[start:stop]
        if W.shape[0] == 1:
            losses = np.logaddexp(0.0, Z[:, 0]) - (labels == 1) * Z[:, 0]
        else:
            losses = logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), labels]
        total += float(s[start:stop] @ losses)
    S = float(np.sum(s))
    penalty = 0.0 if np.isinf(C) else elastic_net_penalty(W, l1_ratio) / (C * S)
    return total / S + penalty


def log_loss_objective_and_gradient(X, y, coef, intercept, *, C=1.0,
                                    sample_weight=None, classes=None):
    """:func:`log_loss_objective` without L1, and its gradient.

    Same parameters (``X`` dense). Returns the value, the gradient in
    ``coef`` (its shape) and the gradient in ``intercept`` (shape ``(k,)``),
    all of the mean form: ``(1/S) sum_i s_i (a_i - y_i) x_i`` plus
    ``W / (C S)``, with ``a`` the sigmoid or softmax probabilities.
    """
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    b = np.asarray(intercept, dtype=np.float64).ravel()
    X = np.asarray(X, dtype=np.float64)
    index = class_indices(y, classes)
    s = _weights(sample_weight, X.shape[0])
    S = float(np.sum(s))
    Z = X @ W.T + b
    if W.shape[0] == 1:
        target = (index == 1).astype(np.float64)[:, None]
        losses = np.logaddexp(0.0, Z[:, 0]) - target[:, 0] * Z[:, 0]
        residual = expit(Z) - target
    else:
        target = np.eye(W.shape[0])[index]
        lse = logsumexp(Z, axis=1)
        losses = lse - np.sum(target * Z, axis=1)
        residual = np.exp(Z - lse[:, None]) - target
    weighted = residual * (s / S)[:, None]
    value = float(s @ losses) / S
    grad_coef = weighted.T @ X
    if not np.isinf(C):
        value += 0.5 * float(np.sum(W**2)) / (C * S)
        grad_coef = grad_coef + W / (C * S)
    return value, grad_coef.reshape(np.shape(coef)), weighted.sum(axis=0)


def relative_gap(objective, optimum):
    """``(objective - optimum) / |optimum|`` (the absolute gap when the optimum is 0)."""
    return (objective - optimum) / abs(optimum) if optimum != 0 else objective - optimum
