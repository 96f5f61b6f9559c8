"""The Hessian of the cost: the Jacobian of its gradient, column per sample.

Differentiating the gradient ``grad_w J = (1/S) X diag(s) R^T`` once more, with
``R = dl/dz`` and ``z = w^T X + b``, gives

.. math::

    \\nabla^2_{w_c w_{c'}} J = \\frac{1}{S} X \\operatorname{diag}\\big(s \\odot
        \\partial^2 l / \\partial z_c \\partial z_{c'}\\big) X^T,

which is ``(1/S) X diag(s a (1 - a)) X^T`` for the binary logistic loss,
``(1/S) X diag(s) X^T`` for least squares, and one such block per pair of
classes for the softmax loss (``diag(a) - a a^T`` per sample). The intercept
is one more column of ones in ``X``.

The sums are accumulated in the same blocked pass over ``X`` as the cost and
its gradient, and in centred and scaled coordinates: each block of samples
is centred by the weighted feature means ``mu`` and scaled by ``d`` before its
products, which keeps features with a large offset from cancelling in
floating point (the Hessian of raw, uncentred data is as ill-conditioned as
their offsets are large). Sparse ``X`` is never densified or centred: its
blocks use ``(X - 1 mu^T) D = X D - 1 (D mu)^T`` expanded, which is exact
algebra and, for sparse data, whose means are small against their spread,
accurate.
"""

import numpy as np
import scipy.sparse as sp

from ._array_api import array_device, namespace
from ._blocks import sample_blocks
from ._objectives import _as_dense, predict


def _pairs(curvature, n_outputs):
    """``(c, c', weights)`` for the non-zero blocks of the per-sample Hessian, ``c <= c'``.

    A diagonal of a single row is shared by all outputs (least squares): one
    block stands for all, marked by ``c = c' = None``.
    """
    diagonal, low_rank = curvature
    if low_rank is None and diagonal.shape[0] == 1 and n_outputs > 1:
        return [(None, None, diagonal[0, ...])]
    pairs = []
    for c in range(n_outputs):
        for c2 in range(c, n_outputs):
            weights = diagonal[c, ...] if c == c2 else None
            if low_rank is not None:
                coupling = low_rank[c, ...] * low_rank[c2, ...]
                weights = -coupling if weights is None else weights - coupling
            if weights is not None:
                pairs.append((c, c2, weights))
    return pairs


def _design_block(XT_block, center, scale, intercept_scale, fit_intercept):
    """``[(X_b - mu) D, d_c 1]`` for a dense block of samples, shape ``(m_b, n [+ 1])``."""
    xp = namespace(XT_block)
    design = (XT_block.T - center) * scale
    if not fit_intercept:
        return design
    column = xp.full((design.shape[0], 1), intercept_scale, dtype=design.dtype,
                     device=array_device(design))
    return xp.concat([design, column], axis=1)


def _weighted_gram_dense(design, weights):
    """``A^T diag(q) A`` of a dense block."""
    return design.T @ (design * weights[:, None])


def _weighted_gram_sparse(XT, weights, center, scale, intercept_scale, fit_intercept):
    """``A^T diag(q) A`` for ``A = [(X - 1 mu^T) D, d_c 1]`` without densifying ``X``."""
    X = XT.T.tocsr()
    q = np.asarray(weights)
    gram = _as_dense((X.T @ sp.csr_matrix(X.multiply(q[:, None]))).toarray())
    column_sums = np.asarray(X.T @ q).ravel()
    total = float(q.sum())
    shifted = scale * center
    top = (scale[:, None] * gram * scale[None, :]
           - np.outer(scale * column_sums, shifted)
           - np.outer(shifted, scale * column_sums)
           + total * np.outer(shifted, shifted))
    if not fit_intercept:
        return top
    cross = intercept_scale * (scale * column_sums - total * shifted)
    corner = intercept_scale**2 * total
    return np.block([[top, cross[:, None]], [cross[None, :], np.array([[corner]])]])


def loss_gradient_hessian_sums(XT, Y, s, w, b, loss, *, center, scale, intercept_scale,
                               fit_intercept):
    """The weighted sums of the cost, its gradient and its Hessian, in one pass.

    Parameters
    ----------
    XT : array or sparse matrix of shape (n_features, m)
        The data, one column per sample.
    Y : array of shape (k, m)
        Targets, one row per output.
    s : array of shape (m,)
        Non-negative sample weights.
    w : array of shape (n_features, k)
        Coefficients.
    b : array of shape (k,)
        Intercepts.
    loss : Loss
        The per-sample loss (:mod:`._losses`).
    center, scale : array of shape (n_features,)
        ``mu`` and the diagonal of ``D``: the Hessian is that of the
        coordinates ``v`` with ``w = D v``, ``b = d_c c - mu^T w``.
    intercept_scale : float
        ``d_c``.
    fit_intercept : bool
        Whether the intercept is a coordinate (the last one).

    Returns
    -------
    weighted_loss : 0-d array
        ``sum_i s_i l_i``.
    weighted_gradient_w : array of shape (n_features, k)
        ``X diag(s) R^T``.
    weighted_gradient_b : array of shape (k,)
        ``R s``.
    hessian : dict
        ``{(c, c'): array (p, p)}`` for ``c <= c'``, ``p = n_features [+ 1]``:
        ``A^T diag(s * d^2 l / dz_c dz_c') A`` in the centred and scaled
        coordinates; the single key ``(None, None)`` when all outputs share
        one block (least squares).
    """
    xp = namespace(w)
    J = xp.zeros((), dtype=w.dtype, device=array_device(w))
    grad_w, grad_b = xp.zeros_like(w), xp.zeros_like(b)
    hessian = {}
    blocks = [slice(None)] if sp.issparse(XT) else sample_blocks(XT)
    for block in blocks:
        whole = block == slice(None)
        XT_block = XT if whole else XT[:, block]
        Y_block = Y if whole else Y[:, block]
        s_block = s if whole else s[block]
        z = predict(XT_block, w, b)
        per_sample_loss, residual = loss.loss_and_residual(z, Y_block)
        weighted_residual = residual * s_block
        J += xp.sum(per_sample_loss * s_block)
        grad_w += _as_dense(XT_block @ weighted_residual.T)
        grad_b += xp.sum(weighted_residual, axis=1)
        design = None
        for c, c2, weights in _pairs(loss.curvature(z), w.shape[1]):
            q = s_block * weights
            if sp.issparse(XT_block):
                gram = _weighted_gram_sparse(
                    XT_block, q, center, scale, intercept_scale, fit_intercept
                )
            else:
                if design is None:
                    design = _design_block(
                        XT_block, center, scale, intercept_scale, fit_intercept
                    )
                gram = _weighted_gram_dense(design, q)
            hessian[c, c2] = gram if (c, c2) not in hessian else hessian[c, c2] + gram
    return J, grad_w, grad_b, hessian


#: Eigenvalues of the Hessian (in the solver's coordinates) below this
#: fraction of the largest are treated as zero: its entries are sums of
#: products whose relative rounding error is about ``sqrt(m) eps``. Genuine
#: curvatures can be far smaller than the largest (a nearly separable
#: direction has ``a (1 - a)`` near zero), so the threshold stays at
#: rounding level.
_SINGULAR_RATIO = 1e-13
#: Eigenvalues below this many times the largest negative one (in size) are
#: rounding error of a singular matrix.
_NOISE_MARGIN = 10.0


class HessianMatrix:
    """The Hessian of ``F`` in the solver's coordinates, on the host.

    ``theta`` of shape ``(p, k)`` is vectorised output by output (index
    ``c p + j``). When every output has the same Hessian block (least
    squares), only that ``(p, p)`` block is kept and solves take ``k``
    right-hand sides.

    Parameters
    ----------
    matrix : ndarray of shape (p k, p k), or (p, p) when ``shared``
        The symmetric positive semi-definite Hessian.
    n_outputs : int
        ``k``.
    shared : bool
        Whether ``matrix`` is the one block of every output.
    shift_invariant : bool, default=False
        Whether the objective ignores a shift common to the intercepts of
        all outputs (softmax; the last coordinate of each output's block is
        its intercept): the Hessian is singular along that shift and
        gradients have no component along it. :meth:`regularized` adds its
        projection times the typical curvature, which makes the matrix
        positive definite there and leaves solutions unchanged, and keeps
        them free of that shift (which rounding would otherwise feed).
    """

    def __init__(self, matrix, n_outputs, shared, shift_invariant=False):
        self.matrix = matrix
        self.n_outputs = n_outputs
        self.shared = shared
        self.shift_invariant = shift_invariant
        self._factor = None

    def regularized(self):
        """The matrix, made definite along a shift of all intercepts if invariant."""
        if not self.shift_invariant:
            return self.full()
        matrix = self.full().copy()
        p = matrix.shape[0] // self.n_outputs
        intercepts = np.arange(self.n_outputs) * p + p - 1
        curvature = float(np.mean(np.diag(matrix)[intercepts]))
        matrix[np.ix_(intercepts, intercepts)] += curvature / self.n_outputs
        return matrix

    @property
    def size(self):
        """Number of coordinates, ``p k``."""
        return self.matrix.shape[0] * (self.n_outputs if self.shared else 1)

    def full(self):
        """The whole ``(p k, p k)`` matrix."""
        if not self.shared:
            return self.matrix
        return np.kron(np.eye(self.n_outputs), self.matrix)

    def solve(self, gradient):
        """``H^+ g`` for ``g`` of shape ``(p, k)`` (numpy, host), same shape.

        A Cholesky factorisation when ``H`` is safely positive definite;
        otherwise the pseudo-inverse from its eigendecomposition, with
        eigenvalues below ``_SINGULAR_RATIO`` of the largest treated as zero
        (directions along which ``F`` is flat, such as collinear columns:
        a step along them would change the coefficients, not the fit).
        """
        if self._factor is None:
            self._factor = _psd_factor(self.regularized() if not self.shared else self.matrix)
        if self.shared:
            return self._factor(gradient)
        flat = gradient.T.reshape(-1)
        return self._factor(flat).reshape(self.n_outputs, -1).T


def _psd_factor(matrix):
    """A function solving ``matrix x = b``: Cholesky, or a thresholded pseudo-inverse."""
    import scipy.linalg

    if matrix.shape[0] == 0:
        return lambda rhs: rhs
    largest = float(np.max(np.abs(np.diag(matrix)))) if matrix.size else 0.0
    if largest > 0:
        try:
            factor = scipy.linalg.cho_factor(matrix, lower=True, check_finite=False)
            pivots = np.abs(np.diag(factor[0]))
            if np.all(np.isfinite(pivots)) and pivots.min() ** 2 > _SINGULAR_RATIO * largest:
                return lambda rhs: scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            pass
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    top = max(float(eigenvalues[-1]), 0.0)
    # The matrix is positive semi-definite: a negative eigenvalue is rounding
    # error, and measures it. Eigenvalues within a few times that error are
    # indistinguishable from zero (a change of variables that decorrelates a
    # singular design spreads the error over its null space), and dividing by
    # them would amplify the gradient's own rounding into a large step.
    noise = _NOISE_MARGIN * max(-float(eigenvalues[0]), 0.0)
    threshold = max(_SINGULAR_RATIO * top, noise)
    keep = eigenvalues > threshold if top > 0 else np.zeros_like(eigenvalues, bool)
    basis, inverse = eigenvectors[:, keep], 1.0 / eigenvalues[keep]

    def pseudo_inverse(rhs):
        coordinates = basis.T @ rhs
        scaled = coordinates * (inverse[:, None] if rhs.ndim == 2 else inverse)
        return basis @ scaled

    return pseudo_inverse


def assemble_hessian(blocks, *, n_outputs, rotation, scale, l2_strength, fit_intercept,
                     shift_invariant=False):
    """The Hessian in the solver's coordinates from the centred-scaled blocks.

    Parameters
    ----------
    blocks : dict
        From :func:`loss_gradient_hessian_sums`, divided by ``S`` and moved
        to the host: ``{(c, c'): (p, p)}`` or ``{(None, None): (p, p)}``.
    n_outputs : int
        ``k``.
    rotation : ndarray of shape (n_features, n_features) or None
        The symmetric ``R`` of the change of variables (``w = D R v``).
    scale : ndarray of shape (n_features,)
        The diagonal of ``D``.
    l2_strength : float
        ``lambda_2``: adds ``lambda_2 R D^2 R`` to each output's coefficient block.
    fit_intercept : bool
        Whether the last coordinate is the intercept.
    shift_invariant : bool, default=False
        Whether the loss ignores a shift common to all outputs (softmax);
        see :class:`HessianMatrix`.

    Returns
    -------
    HessianMatrix
    """
    n_features = scale.shape[0]

    def rotated(block, diagonal):
        block = np.array(block, dtype=np.float64)
        if rotation is not None:
            block[:n_features, :] = rotation @ block[:n_features, :]
            block[:, :n_features] = block[:, :n_features] @ rotation
        if diagonal and l2_strength > 0:
            penalty = np.diag(l2_strength * scale**2)
            if rotation is not None:
                penalty = rotation @ penalty @ rotation
            block[:n_features, :n_features] += penalty
        return block

    if (None, None) in blocks:
        return HessianMatrix(rotated(blocks[None, None], True), n_outputs, shared=True)
    p = n_features + int(fit_intercept)
    matrix = np.zeros((p * n_outputs, p * n_outputs))
    for (c, c2), block in blocks.items():
        block = rotated(block, c == c2)
        matrix[c * p:(c + 1) * p, c2 * p:(c2 + 1) * p] = block
        if c != c2:
            matrix[c2 * p:(c2 + 1) * p, c * p:(c + 1) * p] = block.T
    return HessianMatrix(matrix, n_outputs, shared=False,
                         shift_invariant=shift_invariant and fit_intercept)
