"""Many models' objectives in one: what the batched solver sees.

Each model ``j`` (a fold and a penalty) minimises, like a single fit
(:mod:`._problem`),

``F_j(w, b) = (1/S_j) sum_i s_ji l(w^T x_i + b, y_i) + l2_j/2 ||w||^2 + l1_j ||w||_1``,

with its fold's weights ``s_j`` (zero on the rows held out of the fold). The
parameters of all models live in one array ``theta`` of shape
``(n_rows, M, k)``: one row per feature plus one for the intercept, one
column per model and output.

The change of variables (:mod:`._preconditioning`) is built from the
moments of the full data: it changes each model's path, never its minimiser,
and one ``X^T X`` serves every fold. It depends on the L2 strength, so the
models are grouped by penalty (a *group*: one ``C`` or ``alpha`` and one
``l1_ratio``), each group with its own scaling and rotation; the models of a
group are contiguous columns, so that each group's rotation is one product.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._array_api import array_device, from_numpy, namespace, numpy_float_dtype, to_numpy
from ._batched_certificate import certify
from ._batched_objective import (
    batched_logits,
    batched_loss_and_gradient_sums,
    batched_loss_gradient_hessian_sums,
    held_out_logits,
    row_block,
    row_blocks,
)
from ._hessian import assemble_hessian
from ._losses import SquaredError
from ._moments import weighted_feature_moments
from ._preconditioning import Preconditioner, preconditioner_from_moments, resolve_kind
from ._problem import HESSIAN_FIXED_COST
from ._solvers import largest_eigenvalue

#: A numpy ``X`` with at most this fraction of non-zero entries (one-hot
#: factors stored densely, say) is read through a CSR copy: a pass over it
#: then costs that fraction of the dense products' flops, which with many
#: model columns are what a pass costs, and the copy (12 bytes per stored
#: entry) takes at most 7.5% of the memory of ``X``. The moments behind the
#: change of variables are still taken from ``X`` itself.
SPARSE_COPY_DENSITY = 0.05


class FoldSamples:
    """Samples held in memory, each fold's training rows marked by weights.

    Parameters
    ----------
    X : array or CSR matrix of shape (m, n_features)
        Validated data.
    Y : array of shape (k, m)
        Targets, shared by all folds.
    sample_weight : array of shape (m,)
        Weights of the full data (the change of variables is built from them).
    fold_weights : array of shape (n_folds, m)
        Each fold's training weights, zero on the rows it holds out.
    """

    def __init__(self, X, Y, sample_weight, fold_weights):
        self.X = X
        #: What the passes read: ``X``, or a CSR copy of a numpy ``X`` that
        #: is mostly zeros (see :data:`SPARSE_COPY_DENSITY`).
        self.reads = X
        if isinstance(X, np.ndarray) and X.size:
            density = np.count_nonzero(X) / X.size
            if density <= SPARSE_COPY_DENSITY:
                self.reads = sp.csr_matrix(X)
        self.Y = Y
        self.sample_weight = sample_weight
        self.fold_weights = fold_weights
        xp = namespace(fold_weights)
        self.fold_totals = xp.sum(fold_weights, axis=1)

    @property
    def n_features(self):
        """Number of features."""
        return self.X.shape[1]

    @property
    def like(self):
        """An array of the data's namespace, device and dtype."""
        return self.X

    def fold_weight(self, fold):
        """The training weights of ``fold`` (for the start)."""
        return self.fold_weights[fold, ...]

    def loss_and_gradient(self, w, b, loss, model_folds):
        """Every model's ``J``, ``grad_w J``, ``grad_b J``: one pass over ``X``."""
        xp = namespace(w)
        J, grad_w, grad_b = batched_loss_and_gradient_sums(
            self.reads, self.Y, self.fold_weights, model_folds, w, b, loss
        )
        S = xp.take(self.fold_totals, model_folds, axis=0)
        return J / S, grad_w / S[None, :, None], grad_b / S[:, None]

    def feature_moments(self, centered, with_correlation):
        """Weighted moments of the full data."""
        return weighted_feature_moments(self.X, self.sample_weight, centered, with_correlation)

    def loss_gradient_hessian(self, w, b, loss, model_folds, **coordinates):
        """Every model's ``J``, gradients and Hessian blocks (each divided by ``S_j``).

        ``coordinates``: ``center``, ``scale``, ``intercept_scale`` and
        ``fit_intercept`` of :func:`._batched_objective.batched_loss_gradient_hessian_sums`.
        """
        xp = namespace(w)
        J, grad_w, grad_b, hessians = batched_loss_gradient_hessian_sums(
            self.reads, self.Y, self.fold_weights, model_folds, w, b, loss, **coordinates
        )
        S = xp.take(self.fold_totals, model_folds, axis=0)
        totals = np.asarray(to_numpy(S), dtype=np.float64)
        hessians = [
            {key: np.asarray(to_numpy(block), dtype=np.float64) / total
             for key, block in blocks.items()}
            for blocks, total in zip(hessians, totals, strict=True)
        ]
        return J / S, grad_w / S[None, :, None], grad_b / S[:, None], hessians

    @property
    def n_rows(self):
        """Number of samples."""
        return self.X.shape[0]

    @property
    def nbytes(self):
        """Bytes of ``X`` (its stored entries and indices when sparse)."""
        if sp.issparse(self.X):
            return self.X.data.nbytes + self.X.indices.nbytes + self.X.indptr.nbytes
        return self.X.shape[0] * self.X.shape[1] * np.dtype(numpy_float_dtype(self.X)).itemsize

    def logits(self, w, b):
        """Every model's logits ``(M, k, m)`` on every row: one pass over ``X``."""
        return batched_logits(self.reads, w, b)

    def reduce_logits(self, z, model_folds, function):
        """``function(z, Y, S)``: sums over samples, ``S`` the models' fold weights ``(M, m)``.

        Applied block of rows by block and the tuples added, so that its
        temporaries stay block-sized whatever the number of models.
        """
        total = None
        for block, S in self._logit_blocks(z, model_folds):
            sums = function(z[:, :, block], self.Y[:, block], S)
            total = sums if total is None else tuple(
                a + b for a, b in zip(total, sums, strict=True))
        return total

    def correlate_logits(self, z, model_folds, function):
        """``X^T F^T`` for the rows ``F = function(z, Y, S)``: one pass over ``X``, in blocks."""
        total = None
        for block, S in self._logit_blocks(z, model_folds):
            rows = function(z[:, :, block], self.Y[:, block], S)
            product = row_block(self.reads, block).T @ rows.T
            product = np.asarray(product) if isinstance(product, np.matrix) else product
            total = product if total is None else total + product
        return total

    def _logit_blocks(self, z, model_folds):
        """``(rows, S)``: blocks of rows of the kept logits and the models' weights there."""
        xp = namespace(z)
        for block in row_blocks(self.reads, z.shape[0] * (z.shape[1] + 1)):
            yield block, xp.take(self.fold_weights[:, block], model_folds, axis=0)

    def held_out_logits(self, w, b, test_rows):
        """Logits of the models ``w`` ``(n_features, M', k)`` on the rows ``test_rows``."""
        return held_out_logits(self.reads, test_rows, w, b)


@dataclass
class ModelGrid:
    """The models of a cross-validation, as host arrays (one entry per model).

    Models of the same group must be contiguous, groups in increasing order.

    Attributes
    ----------
    folds : ndarray of int of shape (M,)
        The fold of each model.
    groups : ndarray of int of shape (M,)
        The penalty group of each model (one change of variables each).
    l2_strengths, l1_strengths : ndarray of shape (M,)
        Penalty strengths in the mean form of each model's fold (``l1``
        already divided by the output scale).
    group_l2_strengths, group_l1_strengths : ndarray of shape (n_groups,)
        The strengths the change of variables of each group is built for
        (those of the full data).
    """

    folds: np.ndarray
    groups: np.ndarray
    l2_strengths: np.ndarray
    l1_strengths: np.ndarray
    group_l2_strengths: np.ndarray
    group_l1_strengths: np.ndarray

    @property
    def n_models(self):
        """Number of models."""
        return self.folds.shape[0]


class ActiveModels:
    """The models a solver iteration evaluates: a subset of the grid, on the device.

    Parameters
    ----------
    problem : BatchedProblem
        The problem of all models.
    indices : ndarray of int
        Positions in the grid, increasing (so groups stay contiguous).
    """

    def __init__(self, problem, indices):
        grid = problem.grid
        like = problem.samples.like
        dtype = numpy_float_dtype(like)
        self.indices = np.asarray(indices)
        self.folds = from_numpy(grid.folds[self.indices], like=like)
        groups = grid.groups[self.indices]
        # (group, start, stop) of each run of equal groups.
        bounds = np.flatnonzero(np.diff(groups)) + 1
        starts = np.concatenate([[0], bounds]).astype(int)
        stops = np.concatenate([bounds, [groups.shape[0]]]).astype(int)
        self.segments = [
            (int(groups[start]), int(start), int(stop))
            for start, stop in zip(starts, stops, strict=True)
        ]
        self.l2_strengths = from_numpy(grid.l2_strengths[self.indices].astype(dtype), like)
        l1_weights = np.stack([
            problem.l1_row_weights(grid.groups[index], grid.l1_strengths[index])
            for index in self.indices
        ], axis=1) if self.indices.size else np.zeros((problem.n_rows, 0))
        self.l1_weights = from_numpy(l1_weights.astype(dtype), like)
        self.has_l1 = grid.l1_strengths[self.indices] > 0

    @property
    def size(self):
        """Number of active models."""
        return self.indices.shape[0]


class BatchedProblem:
    """Every model's objective in the solver's coordinates.

    Parameters
    ----------
    samples : FoldSamples or ._dask.DaskFoldSamples
        The data and the folds' weights.
    loss : Loss
        The per-sample loss (:mod:`._losses`).
    grid : ModelGrid
        The models.
    preconditioners : list of Preconditioner
        One change of variables per group (same ``mean`` and
        ``intercept_scale`` for all).
    fit_intercept : bool
        Whether the last row of ``theta`` is the intercept.
    n_outputs : int
        ``k``.
    output_scale : float, default=1.0
        The targets were divided by it.
    """

    def __init__(self, samples, loss, grid, preconditioners, fit_intercept, n_outputs,
                 output_scale=1.0):
        self.samples = samples
        self.loss = loss
        self.grid = grid
        self.preconditioners = preconditioners
        self.fit_intercept = fit_intercept
        self.n_outputs = n_outputs
        self.output_scale = output_scale
        self.unit_diagonal = not preconditioners[0].is_identity
        self._lipschitz = None
        self._feature_rms = None

    @property
    def n_features(self):
        """Number of features."""
        return self.samples.n_features

    @property
    def n_rows(self):
        """Rows of ``theta``: one per feature, plus one for the intercept."""
        return self.n_features + int(self.fit_intercept)

    def active(self, indices):
        """The :class:`ActiveModels` at grid positions ``indices``."""
        return ActiveModels(self, indices)

    def l1_row_weights(self, group, l1_strength):
        """L1 weight of each row of ``theta`` for one model (numpy, float64)."""
        scale = np.asarray(to_numpy(self.preconditioners[group].scale), dtype=np.float64)
        weights = l1_strength * scale
        return np.append(weights, 0.0) if self.fit_intercept else weights

    # The change of variables, group by group.

    def _by_group(self, models, array, transform):
        """Apply ``transform(preconditioner, columns)`` to each group's columns of ``array``.

        ``array`` has the models on its axis 1; the pieces are joined back.
        """
        xp = namespace(array)
        pieces = [
            transform(self.preconditioners[group], array[:, start:stop, ...])
            for group, start, stop in models.segments
        ]
        return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=1)

    def to_original(self, theta, models):
        """``(w, b)`` of shapes ``(n_features, A, k)`` and ``(A, k)`` (solver units)."""
        xp = namespace(theta)
        n_features = self.n_features
        k = theta.shape[2]

        def coefficients(preconditioner, columns):
            v = xp.reshape(columns[:n_features, ...], (n_features, -1))
            if preconditioner.rotation is not None:
                v = preconditioner.rotation @ v
            return xp.reshape(v * preconditioner.scale[:, None], (n_features, -1, k))

        w = self._by_group(models, theta, coefficients)
        if not self.fit_intercept:
            return w, xp.zeros_like(theta[0, ...])
        first = self.preconditioners[0]
        offset = xp.reshape(first.mean @ xp.reshape(w, (n_features, -1)), (-1, k))
        return w, first.intercept_scale * theta[n_features, ...] - offset

    def from_original(self, w, b, models):
        """Inverse of :meth:`to_original`."""
        xp = namespace(w)
        n_features, _, k = w.shape

        def scaled(preconditioner, columns):
            v = xp.reshape(columns, (n_features, -1)) / preconditioner.scale[:, None]
            if preconditioner.rotation_inverse is not None:
                v = preconditioner.rotation_inverse @ v
            return xp.reshape(v, (n_features, -1, k))

        v = self._by_group(models, w, scaled)
        if not self.fit_intercept:
            return v
        first = self.preconditioners[0]
        offset = xp.reshape(first.mean @ xp.reshape(w, (n_features, -1)), (-1, k))
        c = (b + offset) / first.intercept_scale
        return xp.concat([v, c[None, ...]], axis=0)

    def gradient_to_scaled(self, grad_w, grad_b, models):
        """The chain rule, model by model: the original gradient in the new coordinates."""
        xp = namespace(grad_w)
        n_features, _, k = grad_w.shape
        first = self.preconditioners[0]
        centred = grad_w - first.mean[:, None, None] * grad_b[None, ...]

        def scaled(preconditioner, columns):
            g = xp.reshape(columns, (n_features, -1)) * preconditioner.scale[:, None]
            if preconditioner.rotation is not None:
                g = preconditioner.rotation @ g
            return xp.reshape(g, (n_features, -1, k))

        grad_v = self._by_group(models, centred, scaled)
        if not self.fit_intercept:
            return grad_v
        return xp.concat([grad_v, first.intercept_scale * grad_b[None, ...]], axis=0)

    # What the solver asks.

    def smooth(self, theta, models):
        """Each model's data term plus L2 part, shape ``(A,)``, and gradient."""
        xp = namespace(theta)
        w, b = self.to_original(theta, models)
        J, grad_w, grad_b = self.samples.loss_and_gradient(w, b, self.loss, models.folds)
        l2 = models.l2_strengths
        penalty = 0.5 * l2 * xp.sum(w * w, axis=(0, 2))
        gradient = self.gradient_to_scaled(grad_w + l2[None, :, None] * w, grad_b, models)
        return J + penalty, gradient

    def nonsmooth_value(self, theta, models):
        """Each model's L1 part, shape ``(A,)``."""
        xp = namespace(theta)
        return xp.sum(models.l1_weights[:, :, None] * xp.abs(theta), axis=(0, 2))

    def objective(self, theta, smooth_value, models):
        """Each model's ``F`` given its smooth part."""
        return smooth_value + self.nonsmooth_value(theta, models)

    def prox(self, theta, step, models):
        """Soft thresholding with each model's step ``(A,)`` and L1 weights."""
        xp = namespace(theta)
        threshold = step[None, :, None] * models.l1_weights[:, :, None]
        return xp.sign(theta) * xp.clip(xp.abs(theta) - threshold, min=0)

    def predicted_gap(self, theta, gradient, models):
        """Each model's ``|v|^2 / 2``, shape ``(A,)``: the gap its quadratic model predicts.

        ``v`` is the minimal-norm subgradient of
        :meth:`._penalties.ElasticNet.optimality_violation`, model by model
        (for a model without L1 it is the gradient), as
        :meth:`._solvers.Problem.predicted_gap` for a single fit: it decides
        when a certificate is worth computing.
        """
        xp = namespace(theta)
        l1 = models.l1_weights[:, :, None]
        at_zero = xp.sign(gradient) * xp.clip(xp.abs(gradient) - l1, min=0)
        away = gradient + l1 * xp.sign(theta)
        residual = xp.where(theta == 0, at_zero, away)
        return 0.5 * xp.sum(residual * residual, axis=(0, 2))

    @property
    def has_hessian(self):
        """Whether the samples give Hessians (in memory; not a dask array's chunks)."""
        return isinstance(self.samples, FoldSamples)

    def hessian_cost(self):
        """What every model's Hessian costs against a shared pass, in passes (an estimate).

        A shared pass costs two products with ``X`` per model column
        (``4 p`` flops per row), bound by arithmetic once there are many
        columns; a Hessian, ``p^2`` flops per row per pair of coupled
        outputs, plus the fixed cost of its blocks
        (:data:`._problem.HESSIAN_FIXED_COST`).
        """
        k = self.n_outputs
        pairs = k * (k + 1) // 2 if self.loss.coupled_outputs else 1
        if sp.issparse(getattr(self.samples, "reads", None)):
            X = self.samples.reads
            width = X.nnz / max(X.shape[0], 1)
        else:
            width = float(self.n_rows)
        return HESSIAN_FIXED_COST + pairs * width / 4.0

    def second_order(self, theta, models):
        """Each model's smooth value ``(A,)``, gradient and :class:`._hessian.HessianMatrix`.

        One pass over ``X`` for all models: the Hessians are accumulated in
        the centred coordinates scaled by the first group's ``D``, then
        moved to each model's own coordinates on the host (its group's
        scaling and rotation, plus its L2 term), as a single fit's
        :meth:`._problem.LinearModelProblem.second_order`.
        """
        xp = namespace(theta)
        first = self.preconditioners[0]
        w, b = self.to_original(theta, models)
        J, grad_w, grad_b, blocks = self.samples.loss_gradient_hessian(
            w, b, self.loss, models.folds, center=first.mean, scale=first.scale,
            intercept_scale=first.intercept_scale, fit_intercept=self.fit_intercept,
        )
        l2 = models.l2_strengths
        penalty = 0.5 * l2 * xp.sum(w * w, axis=(0, 2))
        gradient = self.gradient_to_scaled(grad_w + l2[None, :, None] * w, grad_b, models)
        base = np.asarray(to_numpy(first.scale), dtype=np.float64)
        n_features = self.n_features
        hessians = []
        groups = self.grid.groups[models.indices]
        for position, index in enumerate(models.indices):
            preconditioner = self.preconditioners[groups[position]]
            scale = np.asarray(to_numpy(preconditioner.scale), dtype=np.float64)
            ratio = scale / base
            moved = {}
            for key, block in blocks[position].items():
                block = block.copy()
                block[:n_features, :] *= ratio[:, None]
                block[:, :n_features] *= ratio[None, :]
                moved[key] = block
            rotation = preconditioner.rotation
            hessians.append(assemble_hessian(
                moved, n_outputs=self.n_outputs,
                rotation=None if rotation is None else np.asarray(to_numpy(rotation),
                                                                  dtype=np.float64),
                scale=scale, l2_strength=float(self.grid.l2_strengths[index]),
                fit_intercept=self.fit_intercept, shift_invariant=self.loss.shift_invariant,
            ))
        return J + penalty, gradient, hessians

    def feature_rms(self):
        """Root mean square of each feature (full data; numpy), measured once when needed.

        For the rounding of the models' gradients (see
        :func:`._certificate.gradient_rounding_effect`).
        """
        if self._feature_rms is None:
            _, rms, _ = self.samples.feature_moments(centered=False, with_correlation=False)
            self._feature_rms = np.asarray(to_numpy(rms), dtype=np.float64)
        return self._feature_rms

    def certify(self, theta, models):
        """Each model's duality gap at ``theta``: a ``BatchedCertificate``."""
        return certify(self, theta, models)

    def start(self, models):
        """Zero coefficients and each fold's best intercept for them."""
        like = self.preconditioners[0].scale
        xp = namespace(like)
        shape = (self.n_rows, models.size, self.n_outputs)
        theta = xp.zeros(shape, dtype=like.dtype, device=array_device(like))
        if not self.fit_intercept:
            return theta
        intercepts = np.zeros((models.size, self.n_outputs))
        for position, fold in enumerate(self.grid.folds[models.indices]):
            best = self.loss.intercept_only(self.samples.Y, self.samples.fold_weight(int(fold)))
            if best is not None:
                intercepts[position] = best
        b = from_numpy(intercepts.astype(numpy_float_dtype(like)), like)
        w = xp.zeros_like(theta[: self.n_features, ...])
        return self.from_original(w, b, models)

    def coefficients(self, theta, models):
        """``(w, b)`` in the original coordinates and the user's units."""
        w, b = self.to_original(theta, models)
        return w * self.output_scale, b * self.output_scale

    def first_steps(self, models):
        """Each model's first step: 1 in unit-diagonal coordinates, else ``1/L``."""
        like = self.preconditioners[0].scale
        if self.unit_diagonal:
            steps = np.ones(models.size)
        else:
            lipschitz = self._data_lipschitz() + self.grid.l2_strengths[models.indices]
            steps = np.where(lipschitz > 0, 1.0 / np.maximum(lipschitz, 1e-300), 1.0)
        return from_numpy(steps.astype(numpy_float_dtype(like)), like)

    def _data_lipschitz(self):
        """Bound on the data term's curvature in the plain coordinates (full data).

        ``kappa`` times the largest eigenvalue of ``A^T diag(s/S) A`` (``A``
        the data with a column of ones), by the power iteration of the single
        fits; a fold's is at most ``S / S_f`` times larger, which the line
        search absorbs.
        """
        if self._lipschitz is None:
            single = _SingleModelView(self)
            top = largest_eigenvalue(single.matvec, single.like, n_iter=5)
            self._lipschitz = 1.05 * self.loss.curvature_bound * top
        return self._lipschitz


class _SingleModelView:
    """``A^T diag(s/S) A`` of the full data, as the power iteration needs it."""

    def __init__(self, problem):
        self.problem = problem
        samples = problem.samples
        self.models = problem.active(np.zeros(1, dtype=int))
        xp = namespace(problem.preconditioners[0].scale)
        self.like = xp.zeros((problem.n_rows, 1, 1), dtype=problem.preconditioners[0].scale.dtype,
                             device=array_device(problem.preconditioners[0].scale))
        self.samples = samples

    def matvec(self, theta):
        problem = self.problem
        w, b = problem.to_original(theta, self.models)
        _, grad_w, grad_b = self.samples.loss_and_gradient(
            w, b, _ZeroTargets(), self.models.folds
        )
        return problem.gradient_to_scaled(grad_w, grad_b, self.models)


class _ZeroTargets(SquaredError):
    """Half squared error against zero targets: its gradient is ``A^T diag(s) A theta``."""

    def loss_and_residual(self, z, Y):
        """Ignore the targets."""
        return super().loss_and_residual(z, None)


def build_batched_problem(samples, loss, grid, *, fit_intercept, precondition, n_outputs,
                          output_scale=1.0):
    """Make the :class:`BatchedProblem` of every model of ``grid``.

    Each group gets the change of variables a single fit with its penalty
    would choose (``precondition="auto"``: full without L1 up to 1024
    features, else diagonal), built from the moments of the full data.
    """
    like = samples.like
    n_groups = grid.group_l2_strengths.shape[0]
    kinds = [
        resolve_kind(precondition, samples.n_features, grid.group_l1_strengths[group] > 0)
        for group in range(n_groups)
    ]
    if all(kind == "none" for kind in kinds):
        preconditioners = [Preconditioner.identity(like)] * n_groups
    else:
        mean, std, correlation = samples.feature_moments(
            centered=fit_intercept, with_correlation="full" in kinds
        )
        preconditioners = [
            preconditioner_from_moments(
                mean, std, correlation if kind == "full" else None,
                curvature=loss.curvature_bound,
                l2_strength=float(grid.group_l2_strengths[group]), like=like,
            )
            for group, kind in enumerate(kinds)
        ]
    return BatchedProblem(samples, loss, grid, preconditioners, fit_intercept, n_outputs,
                          output_scale)
