"""Assemble a solver's :class:`~._solvers.Problem` from data, loss and penalty.

This is where the gradient formulas (:mod:`._objectives`), the per-sample
loss (:mod:`._losses`), the change of variables (:mod:`._preconditioning`)
and the penalty (:mod:`._penalties`) meet. The parameters live in one array
``theta`` of shape ``(n_features [+ 1], k)``: one row per feature, plus a
last row for the intercept when it is fitted.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ._array_api import array_device as _device
from ._array_api import from_numpy, namespace, numpy_float_dtype, read_scalars, to_numpy
from ._certificate import (
    Certificate,
    duality_gap,
    gradient_rounding_effect,
    optimal_intercept_shift,
    shift_sums,
)
from ._hessian import assemble_hessian
from ._losses import SquaredError
from ._penalties import ElasticNet
from ._preconditioning import Preconditioner, make_preconditioner, resolve_kind
from ._samples import make_samples
from ._solvers import Problem, largest_eigenvalue

#: Largest Hessian (``(n_features + 1) * k`` coordinates) formed only to
#: certify an unpenalised fit; above it, the stop test relies on the
#: gradient (see :meth:`LinearModelProblem.certify`).
MAX_CERTIFICATE_HESSIAN = 1024
#: A Hessian pass against a gradient pass, measured on 2 cores (numpy,
#: OpenBLAS; ``benchmarks/hessian_cost.py``): about ``FIXED`` passes (the
#: blocks' own overheads) plus one pass per ``COORDINATES_PER_PASS``
#: coordinates per pair of coupled outputs (the products ``A^T diag(q) A``:
#: 8.5 passes for 156 coordinates, 10.7 for 301, 82 for 65 coordinates and
#: 55 pairs, 775 for 785 and 55 pairs).
HESSIAN_FIXED_COST = 5.0
COORDINATES_PER_PASS = 50.0


@dataclass(frozen=True)
class ObjectiveSettings:
    """The objective an estimator asks to minimise, in the solvers' mean form.

    ``F(w, b) = (1/S) sum_i s_i l(w^T x_i + b, y_i) + l2/2 ||w||^2 + l1 ||w||_1``,
    where ``y_i`` are the columns of ``targets`` and ``l`` is ``loss``.

    Attributes
    ----------
    loss : Loss
        The per-sample loss (:mod:`._losses`).
    targets : array of shape (k, m)
        The rows ``Y`` the loss reads (encoded by the loss), in the data's
        namespace and dtype; divided by ``output_scale``.
    l2_strength, l1_strength : float
        The penalty's strengths in the mean form (``l1`` already divided by
        ``output_scale``).
    output_scale : float, default=1.0
        The targets were divided by it: the solution is multiplied by it,
        and objective values by its square, to come back to user units.
    """

    loss: object
    targets: object
    l2_strength: float
    l1_strength: float
    output_scale: float = 1.0


@dataclass
class LinearModelProblem:
    """The objective of a linear model in the solver's coordinates.

    ``F(theta) = (1/S) sum_i s_i l(w^T x_i + b, y_i) + P(w)`` with
    ``(w, b) = preconditioner.to_original(theta)``.
    """

    samples: object
    loss: object
    preconditioner: Preconditioner
    penalty: ElasticNet
    fit_intercept: bool
    n_outputs: int
    output_scale: float = 1.0
    #: The uniform L1 strength on ``w`` in the original coordinates.
    l1_strength: float = 0.0
    #: Root mean square of each feature (numpy), measured when first needed.
    _feature_rms: object = field(default=None, init=False, repr=False)
    #: The Hessian of a constant-curvature loss, once formed.
    _constant_hessian: object = field(default=None, init=False, repr=False)

    @property
    def n_rows(self):
        """Rows of ``theta``: one per feature, plus one for the intercept."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_features(self):
        """Number of features."""
        return self.samples.n_features

    def coefficients(self, theta):
        """``(w, b)`` in the original coordinates and the user's units."""
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        return w * self.output_scale, b * self.output_scale

    def initial_theta(self, coef=None, intercept=None):
        """Zeros, or the given ``(coef, intercept)`` in the solver's units.

        ``coef`` of shape ``(n_features, k)`` and ``intercept`` of shape
        ``(k,)`` may be numpy arrays or arrays of the data's namespace.
        """
        like = self.preconditioner.scale
        xp = namespace(like)
        if coef is None:
            return xp.zeros((self.n_rows, self.n_outputs), dtype=like.dtype,
                            device=_device(like))
        coef, intercept = (
            xp.astype(xp.asarray(array, device=_device(like)), like.dtype)
            for array in (coef, intercept)
        )
        return self.preconditioner.from_original(coef, intercept, self.fit_intercept)

    def start(self, previous=None):
        """Where a fit starts: ``previous`` ``(w, b)`` (user units) if given.

        Otherwise the coefficients are zero and the intercept is the loss's
        best one for zero coefficients (exact for least squares with
        centering), which saves the iterations otherwise spent finding the
        mean.
        """
        if previous is not None:
            return self.initial_theta(*(array / self.output_scale for array in previous))
        theta = self.initial_theta()
        if not self.fit_intercept:
            return theta
        intercept = self.loss.intercept_only(self.samples.Y, self.samples.sample_weight)
        if intercept is None:
            return theta
        coef = namespace(theta).zeros_like(theta[: self.n_features, ...])
        return self.initial_theta(coef, intercept)

    def smooth(self, theta):
        """Data term plus the L2 part of the penalty, and its gradient."""
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        J, grad_w, grad_b = self.samples.loss_and_gradient(w, b, self.loss)
        penalty_value, penalty_gradient = self.penalty.smooth_value_and_gradient(w)
        gradient = self.preconditioner.gradient_to_scaled(
            grad_w + penalty_gradient, grad_b, self.fit_intercept
        )
        return J + penalty_value, gradient

    def second_order(self, theta):
        """Value, gradient and :class:`._hessian.HessianMatrix` of the smooth part.

        One pass over the data: the Hessian is accumulated with the cost and
        its gradient, in the centred and scaled coordinates, then rotated
        into the solver's coordinates on the host (its size is that of the
        coefficients squared).
        """
        if self._constant_hessian is not None:
            # Least squares: the Hessian does not depend on theta, so only the
            # first call reads X for it; later ones are ordinary passes.
            value, gradient = self.smooth(theta)
            return value, gradient, self._constant_hessian
        pre = self.preconditioner
        w, b = pre.to_original(theta, self.fit_intercept)
        J, grad_w, grad_b, blocks = self.samples.loss_gradient_hessian(
            w, b, self.loss, center=pre.mean, scale=pre.scale,
            intercept_scale=pre.intercept_scale, fit_intercept=self.fit_intercept,
        )
        penalty_value, penalty_gradient = self.penalty.smooth_value_and_gradient(w)
        gradient = pre.gradient_to_scaled(grad_w + penalty_gradient, grad_b, self.fit_intercept)
        hessian = assemble_hessian(
            {key: to_numpy(block) for key, block in blocks.items()},
            n_outputs=self.n_outputs,
            rotation=None if pre.rotation is None else to_numpy(pre.rotation),
            scale=np.asarray(to_numpy(pre.scale), dtype=np.float64),
            l2_strength=self.penalty.l2_strength, fit_intercept=self.fit_intercept,
            shift_invariant=self.loss.shift_invariant,
        )
        if self.loss.constant_curvature:
            self._constant_hessian = hessian
        return J + penalty_value, gradient, hessian

    def hessian_cost(self):
        """What a Hessian costs, in passes over the data (an estimate).

        A pass streams ``X`` once, about one memory read per stored entry.
        Forming the Hessian costs, per pair of coupled outputs, one product
        ``A^T diag(q) A``: ``p`` multiply-adds per stored entry of a dense
        block (at the speed of a matrix product), or for sparse rows about
        as many as they have stored entries. The constants are measured.
        """
        k = self.n_outputs
        pairs = k * (k + 1) // 2 if self.loss.coupled_outputs else 1
        width = self.samples.hessian_work_per_entry(self.n_rows)
        return HESSIAN_FIXED_COST + pairs * width / COORDINATES_PER_PASS

    def hessian_flops(self):
        """Multiply-adds of one Hessian: ``m`` rows times ``p^2`` per output pair."""
        k = self.n_outputs
        pairs = k * (k + 1) // 2 if self.loss.coupled_outputs else 1
        return float(self.samples.Y.shape[-1]) * self.n_rows**2 * pairs

    def certify(self, theta):
        """A bound on ``F(theta) - min F``: a :class:`._certificate.Certificate`, or None.

        For least squares without L1 and for unpenalised objectives, the gap
        of the quadratic model, ``g^T H^+ g / 2``, exact for least squares:
        with the full change of variables its Hessian is known without a
        pass; otherwise it is formed when it has at most
        ``MAX_CERTIFICATE_HESSIAN`` coordinates, else (without a penalty)
        there is no certificate: None. Otherwise, the duality gap at
        ``theta`` with the intercept moved to its best value (two passes over
        the data: the logits, then one product with ``X``).
        """
        l1, l2 = self.l1_strength, self.penalty.l2_strength
        if l1 == 0 and (l2 == 0 or self.loss.constant_curvature):
            # Least squares without L1 is quadratic: its model's gap is the
            # gap itself, free of the cancellations of a duality gap.
            certificate = self._quadratic_model_certificate(theta)
            if certificate is not None or l2 == 0:
                return certificate
        return self._duality_gap_certificate(theta, l1, l2)

    def _duality_gap_certificate(self, theta, l1, l2):
        """The duality gap: two passes (the logits, then one product ``X^T``).

        The dual point is the residual at the best intercept for the
        current coefficients. Rounding leaves a little of the intercept's
        optimality (``g_b``), which the bound pays as ``|b_0^T g_b|`` with
        ``b_0`` the logit at a reference point ``x_0`` about which the
        features are taken (the bound holds for any ``x_0``). ``x_0`` is
        the curvature-weighted mean of the samples, where the logits are
        those of uncertain samples, small: an intercept swollen by raw
        offsets does not inflate the rounding.
        """
        xp = namespace(theta)
        loss, k = self.loss, self.n_outputs
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        z = self.samples.logits(w, b)
        shift = np.zeros(k)
        if self.fit_intercept:
            shift = optimal_intercept_shift(
                lambda delta: shift_sums(self.samples, z, delta, loss), k,
                shift_invariant=loss.shift_invariant,
                eps=float(np.finfo(numpy_float_dtype(self.samples.like)).eps),
            )
            b = b + xp.astype(from_numpy(shift, like=b), b.dtype)
        S = float(self.samples.total_weight)
        products = self.samples.correlate_logits(
            z, lambda z_, Y, s: _dual_rows(loss, _shifted(z_, shift), Y, s)
        )
        gradient_w, weighted_feature_sum = products[:, :k] / S, products[:, k]
        loss_sum, residual_sum, weight_sum, weighted_logits, residual_power, target_power = (
            np.asarray(to_numpy(total), dtype=np.float64)
            for total in self.samples.reduce_logits(
                z, lambda z_, Y, s: _dual_sums(loss, _shifted(z_, shift), Y, s)
            )
        )
        correlation, rounding = gradient_w, 0.0
        if self.fit_intercept:
            gradient_b = residual_sum / S
            reference_point = to_numpy(weighted_feature_sum) / float(weight_sum)
            correlation = gradient_w - xp.astype(
                from_numpy(np.outer(reference_point, gradient_b), like=gradient_w),
                gradient_w.dtype,
            )
            rounding = float(np.sum(weighted_logits / float(weight_sum) * gradient_b))

        def loss_gap_at(t):
            (total,) = self.samples.reduce_logits(
                z, lambda z_, Y, s: (
                    namespace(z_).sum(loss.fenchel_young(_shifted(z_, shift), Y, t) * s),
                )
            )
            return float(total) / S

        gap, gap_rounding = duality_gap(correlation, w, l1=l1, l2=l2,
                                        loss_gap_at=loss_gap_at, intercept_residual=rounding)
        (penalty,) = read_scalars(0.5 * l2 * xp.sum(w * w) + l1 * xp.sum(xp.abs(w)))
        objective = float(loss_sum) / S + penalty
        w_host, b_host = to_numpy(w), to_numpy(b)
        return Certificate(
            gap, objective, self.initial_theta(w, b), "duality gap", gap_rounding,
            gradient_rounding=lambda: self._gradient_rounding_effect(
                np.asarray(w_host, dtype=np.float64), np.asarray(b_host, dtype=np.float64),
                math.sqrt(float(residual_power) / S), math.sqrt(float(target_power) / S),
                l1, l2,
            ),
        )

    def _gradient_rounding_effect(self, w, b, residual_rms, target_rms, l1, l2):
        """How much the rounding of the gradient moves the gap: see
        :func:`._certificate.gradient_rounding_effect`. The feature magnitudes
        it needs cost one pass over ``X``, made only when a gap is at the
        limit of what the working precision can certify.
        """
        if self._feature_rms is None:
            _, rms, _ = self.samples.feature_moments(centered=False, with_correlation=False)
            self._feature_rms = np.asarray(to_numpy(rms), dtype=np.float64)
        return gradient_rounding_effect(
            w, b, residual_rms, target_rms, l1, l2, feature_rms=self._feature_rms,
            eps=float(np.finfo(numpy_float_dtype(self.samples.like)).eps),
            curvature_bound=self.loss.curvature_bound,
        )

    def _quadratic_model_certificate(self, theta):
        spectrum = self.preconditioner.bound_spectrum
        if self.loss.constant_curvature and spectrum is not None:
            value, gradient = self.smooth(theta)
            gap = _gap_from_spectrum(to_numpy(gradient), spectrum, self.fit_intercept)
        elif self.n_rows * self.n_outputs <= MAX_CERTIFICATE_HESSIAN:
            value, gradient, hessian = self.second_order(theta)
            gradient = np.asarray(to_numpy(gradient), dtype=np.float64)
            gap = 0.5 * float(np.sum(gradient * hessian.solve(gradient)))
        else:
            return None
        (objective,) = read_scalars(value)
        return Certificate(max(gap, 0.0), objective, theta, "Newton decrement")

    def curvature_bound_matvec(self, theta):
        """Product with the bound ``kappa A^T diag(s/S) A + lambda_2 E`` on the Hessian.

        ``A`` is the design matrix in the solver's coordinates and ``E``
        selects the coefficients. The first term is the gradient of the
        squared loss with zero targets: the same formulas once more.
        """
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        _, grad_w, grad_b = self.samples.loss_and_gradient(
            w, b, SquaredError(), with_targets=False
        )
        kappa = self.loss.curvature_bound
        return self.preconditioner.gradient_to_scaled(
            kappa * grad_w + self.penalty.l2_strength * w, kappa * grad_b,
            self.fit_intercept,
        )

    def lipschitz(self, n_iter=30):
        """Estimate of the Lipschitz constant of the smooth gradient."""
        top = largest_eigenvalue(
            self.curvature_bound_matvec, self.initial_theta()[:, :1], n_iter
        )
        # The power iteration approaches from below; a small margin keeps
        # the fixed 1/L step of plain gradient descent safely below 2/L.
        return 1.05 * top


def build_problem(X, settings, sample_weight, *, fit_intercept, precondition,
                  preconditioner=None):
    """Make the :class:`~._solvers.Problem` a solver minimises.

    Parameters
    ----------
    X : ndarray, sparse matrix or dask array of shape (m, n_features)
        Validated data (scikit-learn's layout; used through ``X.T``, or
        chunk by chunk for a dask array).
    settings : ObjectiveSettings
        The loss, targets and penalty.
    sample_weight : ndarray of shape (m,)
        Non-negative weights with a positive sum.
    fit_intercept : bool
        Whether the last row of ``theta`` is the intercept.
    precondition : {"auto", "full", "diagonal", "none"}
        The change of variables (same minimiser, faster path).
    preconditioner : Preconditioner, default=None
        Reuse this change of variables (``partial_fit`` keeps the first
        batch's) instead of computing one from ``X``.

    Returns
    -------
    problem : Problem
        What the solvers see.
    model : LinearModelProblem
        Maps ``theta`` to coefficients and back.
    """
    Y, loss = settings.targets, settings.loss
    samples = make_samples(X, Y, sample_weight)
    if preconditioner is None:
        preconditioner = make_preconditioner(
            samples, fit_intercept=fit_intercept, curvature=loss.curvature_bound,
            l2_strength=settings.l2_strength,
            kind=resolve_kind(precondition, X.shape[1], settings.l1_strength > 0),
        )
    l1_weights = settings.l1_strength * np.asarray(
        to_numpy(preconditioner.scale), dtype=np.float64
    )
    if fit_intercept:
        l1_weights = np.append(l1_weights, 0.0)
    like = samples.like
    penalty = ElasticNet(
        settings.l2_strength,
        from_numpy(l1_weights.astype(numpy_float_dtype(like)), like),
    )
    model = LinearModelProblem(
        samples, loss, preconditioner, penalty, fit_intercept, Y.shape[0],
        settings.output_scale, settings.l1_strength,
    )
    problem = Problem(
        model.smooth, penalty, model.lipschitz,
        unit_diagonal=not preconditioner.is_identity,
        output_scale=settings.output_scale,
        # The full change of variables is built from the curvature bound,
        # which for a constant-curvature loss is the Hessian itself.
        identity_hessian=loss.constant_curvature and preconditioner.bound_spectrum is not None,
        n_coordinates=model.n_rows * model.n_outputs,
        hessian_cost=model.hessian_cost(),
        hessian_flops=model.hessian_flops(),
        second_order=model.second_order, certify=model.certify,
    )
    return problem, model


def _shifted(z, shift):
    """The logits ``z`` with every sample's moved by ``shift`` (numpy ``(k,)``)."""
    xp = namespace(z)
    return z + xp.astype(from_numpy(shift, like=z), z.dtype)[:, None]


def _curvature_weight(loss, z):
    """A weight per sample that vanishes where the loss is saturated: ``tr d^2 l/dz^2``.

    The smallest normal number is added, so that the weights still define a
    mean where every sample is saturated.
    """
    xp = namespace(z)
    diagonal, low_rank = loss.curvature(z)
    weight = xp.sum(diagonal, axis=0) * (z.shape[0] if diagonal.shape[0] == 1 else 1)
    if low_rank is not None:
        weight = weight - xp.sum(low_rank * low_rank, axis=0)
    return xp.clip(weight, min=0.0) + float(np.finfo(np.float64).tiny)


def _dual_rows(loss, z, Y, s):
    """Rows whose products with ``X`` the duality gap needs: ``s r`` and ``s q``."""
    xp = namespace(z)
    _, residual = loss.loss_and_residual(z, Y)
    return xp.concat([residual * s, (_curvature_weight(loss, z) * s)[None, :]], axis=0)


def _dual_sums(loss, z, Y, s):
    """Sums over samples: ``s l``, ``s r``, ``s q``, ``s q z``, ``s |r|^2``, ``s |Y|^2``."""
    xp = namespace(z)
    per_sample, residual = loss.loss_and_residual(z, Y)
    weight = _curvature_weight(loss, z) * s
    return (
        xp.sum(per_sample * s), residual @ s, xp.sum(weight), z @ weight,
        xp.sum(xp.sum(residual * residual, axis=0) * s), xp.sum(xp.sum(Y * Y, axis=0) * s),
    )


def _gap_from_spectrum(gradient, spectrum, fit_intercept):
    """``g^T H^+ g / 2`` for least squares with the full change of variables.

    The coefficients' Hessian is ``V diag(rho) V^T`` (``spectrum``); the
    centred intercept's is 1 and uncoupled. Eigenvalues that are zero to
    rounding are directions along which the objective is flat.
    """
    eigenvalues, eigenvectors = spectrum
    n_features = eigenvectors.shape[0]
    coordinates = eigenvectors.T @ np.asarray(gradient[:n_features], dtype=np.float64)
    keep = eigenvalues > 1e-10 * max(float(eigenvalues.max()), 0.0)
    gap = 0.5 * float(np.sum(coordinates[keep] ** 2 / eigenvalues[keep, None]))
    if fit_intercept:
        gap += 0.5 * float(np.sum(np.asarray(gradient[n_features:], dtype=np.float64) ** 2))
    return gap
