"""Plumbing shared by both estimators: parameters, validation, solving, attributes."""

import functools
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._array_api import (
    check_same_namespace,
    from_numpy,
    get_namespace_and_device,
    is_dask_collection,
    move_to,
    namespace,
    numpy_float_dtype,
    to_float,
    to_numpy,
)
from ._callbacks import IterationCallbacks
from ._objectives import predict
from ._preconditioning import Preconditioner, preconditioner_from_moments
from ._problem import build_problem
from ._solvers import SOLVERS, IterationLog, decaying_step, inverse_lipschitz
from ._solvers._streaming import StreamPenalty
from ._stream import batch_digest, batch_weight, start_stream

ACCEPTED_SPARSE = ("csr", "csc")
#: ``tol`` is raised to this many machine epsilons of the data's dtype: a
#: certificate's own rounding (a gradient summed over many samples, an
#: objective of many terms) is about this large relative to the objective.
TOL_FLOOR_ULPS = 128


def float_dtypes(xp):
    """The dtypes data are fitted in, most precise first: float32 stays float32."""
    return [xp.float64, xp.float32]


def namespace_of_inputs(X, *others):
    """The namespace and device of ``X``, with ``others`` moved there.

    scikit-learn's array-API convention: ``X`` decides, ``y`` and
    ``sample_weight`` follow it (a numpy ``y`` with a torch ``X``, say).
    """
    xp, _, device = get_namespace_and_device(X)
    moved = move_to(*others, xp=xp, device=device)
    return (xp, device, *(moved if len(others) > 1 else (moved,)))


class GDBase(CallbackSupportMixin, BaseEstimator):
    """Parameters and the fit loop common to the gradient-descent estimators.

    Subclasses define how targets become the rows ``Y``, which loss and
    penalty strengths apply, and which attributes hold the coefficients
    (``_coefficient_attributes``), then call :meth:`_solve`.
    """

    _parameter_constraints: dict = {
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVERS))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "precondition": [StrOptions({"auto", "full", "diagonal", "none"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags

    def _validate_sample_weight(self, sample_weight, X):
        if is_dask_collection(X):
            # Weights of a dask X are validated on the host: a stand-in
            # with X's rows and dtype and no columns is all the check reads.
            X = np.empty((X.shape[0], 0), dtype=X.dtype)
        return _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )

    def _validate_dask_input(self, X, y, sample_weight, **y_checks):
        """``fit``'s validation of a dask ``X``: see :func:`._dask.validate_dask_input`."""
        from ._dask import validate_dask_input

        return validate_dask_input(self, X, y, sample_weight, **y_checks)

    def _map_over_chunks(self, method, X, columns, dtype):
        """``method`` over the chunks of the dask array ``X``: a lazy dask array."""
        from ._dask import map_over_chunks

        return map_over_chunks(method, X, self, columns=columns, dtype=dtype)

    def _coefficient_rows(self, n_features):
        """``coef_`` as rows ``(k, n_features)`` and ``intercept_`` as ``(k,)``."""
        coef = self.coef_
        if sp.issparse(coef):  # after sparsify()
            coef = coef.toarray()
        xp = namespace(coef)
        coef = xp.reshape(coef, (-1, n_features))
        intercept = self.intercept_
        if isinstance(intercept, float):
            intercept = from_numpy(np.asarray([intercept], dtype=numpy_float_dtype(coef)), coef)
        elif intercept.ndim == 0:  # a 0-d array of another namespace
            intercept = xp.reshape(intercept, (1,))
        return coef, intercept

    def _warm_start_coefficients(self, n_features, n_outputs, force=False):
        """``(w, b)`` of the previous fit when warm starting applies, else None."""
        if not ((self.warm_start or force) and hasattr(self, "coef_")):
            return None
        if self.coef_.shape[-1] != n_features:
            return None  # a different problem: start afresh
        coef, intercept = self._coefficient_rows(n_features)
        if coef.shape[0] != n_outputs:
            return None
        return coef.T, intercept

    def _effective_tol(self, X):
        """``tol``, raised to a few ulps of ``X``'s dtype.

        Relative differences of objective values below a few ulps of the
        working precision are rounding noise.
        """
        return max(self.tol, TOL_FLOOR_ULPS * float(np.finfo(numpy_float_dtype(X)).eps))

    def _solve(self, X, y, sample_weight, settings):
        """Minimise the objective of ``settings`` and store the fitted attributes.

        Sets ``coef_`` and ``intercept_`` (through ``_coefficient_attributes``),
        ``n_iter_`` and ``loss_curve_``, and feeds the callbacks set with
        ``set_callbacks`` once per iteration.
        """
        # A full fit starts a new stream for any later partial_fit.
        self.__dict__.pop("_stream", None)
        problem, model = build_problem(
            X, settings, sample_weight, fit_intercept=self.fit_intercept,
            precondition=self.precondition,
        )
        n_outputs = settings.targets.shape[0]
        theta = model.start(self._warm_start_coefficients(X.shape[1], n_outputs))
        tol = self._effective_tol(X)
        solver_name = self.solver
        context = self._init_callback_context(max_subtasks=self.max_iter + 1)
        metadata = {"sample_weight": sample_weight}
        context.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        callbacks = None
        if getattr(self, "_skl_callbacks", None):
            callbacks = IterationCallbacks(
                context, self, X, y, metadata,
                lambda theta: self._coefficient_attributes(*model.coefficients(theta), y.ndim),
            )
            callbacks.begin(theta)
        log = IterationLog(
            self.verbose, name=f"{type(self).__name__}/{solver_name}",
            observer=callbacks, output_scale=problem.output_scale,
        )
        result = SOLVERS[solver_name](
            problem, theta, learning_rate=self.learning_rate,
            max_iter=self.max_iter, tol=tol, log=log,
        )
        log.finish(result.converged)
        if callbacks is not None:
            callbacks.close()
        w, b = model.coefficients(result.theta)
        self._check_finite_coefficients(w, b)
        self.n_iter_ = self._n_iter_attribute(result.n_iter, X)
        # A list, as in scikit-learn's MLP: its length is the number of
        # iterations, which is not a property of the data's namespace.
        self.loss_curve_ = list(result.objective_curve)
        self.dual_gap_ = problem.user_objective(result.gap)
        self.solver_ = " -> ".join(result.solvers) if result.solvers else solver_name
        self._warn_unless_converged(result, solver_name, tol, X.dtype)
        for name, value in self._coefficient_attributes(w, b, y.ndim).items():
            setattr(self, name, value)
        context.call_on_fit_task_end(
            estimator=self, X=X, y=y, metadata=metadata, reconstruction_attributes={}
        )

    def _warn_unless_converged(self, result, solver_name, tol, dtype):
        """A ConvergenceWarning that says why the solver stopped and what to do."""
        if result.converged:
            return
        kind = "certified" if result.certificate is not None else "predicted"
        # (the prediction, without a certificate, is the solver's estimate)
        gap = f"the {kind} relative objective gap is {result.relative_gap:.3g}"
        if result.stalled:
            remedy = ("Use float64 data or a larger tol." if not str(dtype).endswith("float64")
                      else "Use a larger tol (rounding limits what can be certified here).")
            message = (
                f"stopped after {result.n_iter} iterations: no further decrease is "
                f"possible at {dtype} precision, and {gap} > tol={tol:g}. {remedy}"
            )
        else:
            message = (
                f"did not converge in max_iter={self.max_iter} iterations: {gap} > "
                f"tol={tol:g}. {self._convergence_advice()}"
            )
        warnings.warn(
            f"{type(self).__name__} (solver={solver_name!r}) {message}",
            ConvergenceWarning, stacklevel=2,
        )

    def _partial_fit_step(self, X, y, labels, sample_weight, make_settings):
        """Process one batch of the stream (see :mod:`._stream`).

        ``labels`` are the targets as the batch's digest reads them, and
        ``make_settings(data_weight)`` gives the objective of the data set
        whose total weight is ``data_weight`` (the classifier's penalty
        depends on it). The Newton-type stream
        (:class:`._solvers.StreamingNewton`) runs unless a first-order
        solver is asked for or the Hessian would be too large; then each
        call takes one proximal gradient step (:func:`_first_order_stream_step`).
        ``n_iter_`` counts the calls and ``loss_curve_`` holds each batch's
        objective at the coefficients before its call. The stream starts
        from the coefficients of a previous ``fit``, if any.
        """
        key = batch_digest(X, labels, sample_weight)
        weight = batch_weight(sample_weight)
        stream = getattr(self, "_stream", None)
        new, data_weight = (True, weight) if stream is None else stream.register(key, weight)
        settings = make_settings(data_weight)
        if stream is None:
            stream = start_stream(self, X, settings.targets, sample_weight, settings,
                                  self._effective_tol(X))
        if stream.newton is None:
            theta, model, objective = self._first_order_stream_step(
                stream, X, settings, sample_weight, new=new, weight=weight,
                data_weight=data_weight,
            )
        else:
            loss_only = replace(settings, l2_strength=0.0, l1_strength=0.0)
            model = build_problem(
                X, loss_only, sample_weight, fit_intercept=self.fit_intercept,
                precondition=self.precondition, preconditioner=stream.coordinates,
            )[1]
            start = stream.newton.theta
            if start is None:
                start = model.start(self._warm_start_coefficients(
                    X.shape[1], settings.targets.shape[0], force=True))
            penalty = StreamPenalty(
                settings.l2_strength, settings.l1_strength, to_numpy(stream.coordinates.scale),
                self.fit_intercept, like=start,
            )
            objective = stream.newton.step(
                model, start, key=key, new=new, batch_weight=weight, data_weight=data_weight,
                data_keys=stream.batches.keys() | {key}, penalty=penalty,
            )
            theta = stream.newton.theta
        w, b = model.coefficients(theta)
        self._check_finite_coefficients(w, b)
        self._stream = stream
        stream.commit(key, weight, objective)
        self.n_iter_ = self._n_iter_attribute(stream.n_calls, X)
        self.loss_curve_ = list(stream.objectives)
        for name, value in self._coefficient_attributes(w, b, y.ndim).items():
            setattr(self, name, value)

    def _first_order_stream_step(self, stream, X, settings, sample_weight, *, new, weight,
                                 data_weight):
        """One proximal gradient step on the batch's share of the objective.

        The coordinates are diagonally preconditioned with the running mean
        and variance of all batches so far (full decorrelation from a few
        batches would be unreliable); the coefficients are kept in the
        original coordinates, so the preconditioner may change between
        calls. The first call fixes the base step ``1/L`` of its batch's
        curvature bound (or ``learning_rate``); call ``t`` has step size
        ``share * base / sqrt(t)`` (:func:`._solvers.decaying_step`), with
        ``share`` the batch's weight over the mean weight of the data set's
        batches. Returns ``(theta, model, objective)``.
        """
        if self.precondition == "none":
            preconditioner = Preconditioner.identity(X)
        else:
            if new:
                # The moments are those of the data set: a batch passed
                # again is not counted twice.
                stream.moments.update(X, sample_weight, self.fit_intercept)
            preconditioner = preconditioner_from_moments(
                stream.moments.mean, stream.moments.std, None,
                curvature=settings.loss.curvature_bound,
                l2_strength=settings.l2_strength, like=X,
            )
        problem, model = build_problem(
            X, settings, sample_weight, fit_intercept=self.fit_intercept,
            precondition=self.precondition, preconditioner=preconditioner,
        )
        if stream.base_step is None:
            stream.base_step = (
                inverse_lipschitz(problem) if self.learning_rate == "auto"
                else float(self.learning_rate)
            )
        # Continue from the last partial_fit, or from a full fit.
        previous = self._warm_start_coefficients(
            X.shape[1], settings.targets.shape[0], force=True
        )
        mean_weight = (stream.data_weight + (weight if new else 0.0)) / (
            len(stream.batches) + int(new))
        theta, objective = decaying_step(
            problem, model.start(previous), base_step=stream.base_step,
            step_number=stream.n_calls + 1, share=weight / mean_weight,
        )
        return theta, model, problem.user_objective(objective)

    def _n_iter_attribute(self, n_iter, X):
        """``n_iter_`` as scikit-learn gives it for this kind of estimator (an int)."""
        return n_iter

    def _check_finite_coefficients(self, w, b):
        """Raise rather than return NaN or infinite coefficients."""
        xp = namespace(w)
        if not (bool(xp.all(xp.isfinite(w))) and bool(xp.all(xp.isfinite(b)))):
            raise ValueError(
                f"{type(self).__name__} produced non-finite coefficients; the "
                "data are too large for floating-point arithmetic. Rescale X or y."
            )

    def _convergence_advice(self):
        """What to change when max_iter is reached, given the current settings."""
        advice = ["increase max_iter"]
        if self.solver != "auto":
            advice.append("use solver='auto'")
        if self.precondition != "auto":
            advice.append("use precondition='auto'")
        advice.append("loosen tol")
        return "Possible remedies: " + ", ".join(advice) + "."

    def _decision_rows(self, X):
        """Validate ``X`` and return the note's ``h = w^T X + b``, shape ``(k, m)``.

        Callers check the fitted state and the namespace of ``X`` first.
        """
        xp = namespace(X)
        X = validate_data(
            self, X, accept_sparse=ACCEPTED_SPARSE, dtype=float_dtypes(xp), reset=False
        )
        return self._logits(X)

    def _logits(self, X):
        """``h = w^T X + b`` for already validated ``X``; raises if it overflows."""
        xp = namespace(X)
        coef, intercept = self._coefficient_rows(X.shape[1])
        z = predict(X.T, coef.T, intercept)
        if not bool(xp.all(xp.isfinite(z))):
            largest = to_float(xp.max(xp.abs(coef)))
            raise ValueError(
                f"{type(self).__name__} computed non-finite values of w^T x + b "
                f"for this input (largest |coef_| is {largest:.3g}): the "
                "products overflow. The fit likely diverged (a fixed "
                "learning_rate that is too large) or X is far outside the range "
                "seen in fit; rescale X or refit with learning_rate='auto'."
            )
        return z


def predict_method(output):
    """Make a public predict-like method handle what all of them share.

    The decorated method receives validated-namespace input: the wrapper
    checks that the estimator is fitted, maps the method over the chunks of
    a dask array (returning a lazy dask array), and checks that ``X`` is in
    the namespace of the fitted attributes, naming the public method in the
    error.

    Parameters
    ----------
    output : callable
        ``estimator -> (columns, dtype)``: the result's number of columns
        (None for a 1-D result) and dtype, for the lazy dask result.
    """

    def decorate(method):
        @functools.wraps(method)
        def public_method(self, X):
            check_is_fitted(self)
            if is_dask_collection(X):
                columns, dtype = output(self)
                return self._map_over_chunks(
                    functools.partial(public_method, self), X, columns, dtype
                )
            check_same_namespace(X, self, attribute="coef_", method=method.__name__)
            return method(self, X)

        return public_method

    return decorate


def weighted_mean(values, sample_weight):
    """Mean of each row of ``values`` ``(k, m)`` under the weights ``(m,)``."""
    return (values @ sample_weight) / namespace(values).sum(sample_weight)

