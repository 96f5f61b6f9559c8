"""GDLinearRegression: least squares (ridge, lasso, elastic net) by gradient descent."""

from numbers import Real

from sklearn.base import MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from ._array_api import is_dask_collection, namespace, to_float
from ._base import (
    ACCEPTED_SPARSE,
    GDBase,
    float_dtypes,
    namespace_of_inputs,
    predict_method,
)
from ._losses import SquaredError
from ._problem import ObjectiveSettings


class GDLinearRegression(MultiOutputMixin, RegressorMixin, SparseCoefMixin, GDBase):
    """Linear least squares fitted by gradient descent.

    Minimises the mean-form elastic-net objective (scikit-learn's
    :class:`~sklearn.linear_model.ElasticNet` objective, with sample weights)

    .. math::

        F(W, b) = \\frac{1}{2S} \\sum_i s_i \\lVert W x_i + b - y_i \\rVert^2
        + \\alpha \\Big(\\frac{1 - \\rho}{2} \\lVert W \\rVert_F^2
        + \\rho \\lVert W \\rVert_1\\Big),

    with :math:`S = \\sum_i s_i` and :math:`\\rho` = ``l1_ratio``. ``alpha=0``
    gives :class:`~sklearn.linear_model.LinearRegression`, ``l1_ratio=0`` gives
    ``Ridge(alpha=alpha * S)`` and ``l1_ratio=1`` gives ``Lasso(alpha)``. The
    intercept is not penalised. Gradients are the note's
    :math:`\\nabla_w J = \\frac{1}{m} X (h - y)^T`, with weights.

    Parameters
    ----------
    alpha : float, default=0.0
        Regularisation strength; 0 means ordinary least squares.
    l1_ratio : float, default=0.0
        Share of the L1 part of the penalty, in ``[0, 1]``; handled by a
        proximal (soft-thresholding) step, so exact zeros come out.
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercept ``b``.
    solver : {"auto", "gd", "nesterov", "bb", "newton", "lbfgs"}, default="auto"
        ``"gd"``: the note's gradient descent. ``"nesterov"``: accelerated
        gradient with backtracking and adaptive restart. ``"bb"``:
        Barzilai–Borwein steps with a non-monotone line search. ``"newton"``:
        Newton's method with the exact Hessian, formed in one pass over ``X``,
        and a line search; proximal Newton when there is an L1 part.
        ``"lbfgs"``: limited-memory BFGS with a strong Wolfe line search, in
        the same preconditioned coordinates; smooth objectives only
        (``l1_ratio=0``). ``"auto"`` chooses by the cost of a Hessian against
        a pass over ``X``: Newton from the start for few features or an L1
        part, otherwise BB steps handing over to Newton (or L-BFGS, where the
        Hessian is too large) when they stop making fast progress. The fitted
        ``solver_`` says which ran.
    learning_rate : "auto" or float, default="auto"
        What a float means depends on the solver:

        - ``"gd"``: the note's fixed step, taken at every iteration (in the
          preconditioned coordinates unless ``precondition="none"``). A step
          under which the objective grows raises
          :class:`~gdestimators.DivergenceError` (a ``ValueError``) naming
          the largest stable rate, about ``2/L``.
        - ``"nesterov"``: the fixed step of every accelerated iteration (no
          backtracking); a growth of the objective from rest (the first
          iteration, or after a restart of the momentum) raises the same
          :class:`~gdestimators.DivergenceError`.
        - ``"bb"``: the first step only; the Barzilai–Borwein rule and its
          line search choose the others, so a step far too large costs a few
          refused trials and raises nothing.
        - ``"newton"``: the first step length tried along every Newton
          direction, halved until the objective decreases enough; at most 1,
          the step that solves the quadratic model (a larger value counts as
          1: longer steps overshoot it), and a smaller one shortens every
          step. It raises nothing.
        - ``"lbfgs"``: the first trial step while no curvature pair is stored
          (the first iteration, and after a restart); the line search takes
          it from there. It raises nothing.
        - ``"auto"``: passed to the first solver it runs (``solver_`` says
          which), with that solver's meaning; the solvers it hands over to
          use ``"auto"``.

        ``"auto"`` derives the step from the data: ``1/L`` (``L``, the
        Lipschitz constant of the gradient, by power iteration) for ``"gd"``,
        which keeps it, and for ``"nesterov"``, whose backtracking adapts it;
        1 for ``"newton"``; 1 in preconditioned coordinates (else ``1/L``)
        for ``"bb"`` and ``"lbfgs"``. ``partial_fit`` reads it only with a
        first-order solver (see there).
    precondition : {"auto", "full", "diagonal", "none"}, default="auto"
        Change of variables that changes the path, not the minimiser; it is
        what makes raw, unscaled, correlated data converge. ``"diagonal"``
        centres the features implicitly and scales each coordinate by its
        weighted spread; ``"full"`` also decorrelates them with the inverse
        square root of their (scaled) covariance, at the cost of one
        ``X^T X`` product. ``"auto"`` is ``"full"`` up to 1024 features
        without L1 penalty, else ``"diagonal"``. ``"none"`` runs the note's
        algorithm in the original coordinates.
    max_iter : int, default=5000
        Maximum number of iterations.
    tol : float, default=1e-12
        The fit stops when its objective ``F`` (penalty included) is certified
        to be within ``tol * F`` of the minimum: ``(F - min F) / F <= tol``.
        The certificate is a duality gap, or for smooth objectives the
        strong-convexity or Newton-model bound, stored in ``dual_gap_``;
        where none exists (no penalty and a singular design), the solver's own
        estimate of the gap is used instead. ``tol`` is raised to 128 machine
        epsilons of the data's dtype (about 1.5e-5 for float32, 2.8e-14 for
        float64), below which objective differences are rounding noise. A fit
        that stops with a larger gap warns (ConvergenceWarning) and says why.
    warm_start : bool, default=False
        Start from the previous solution when fitting again.
    verbose : int, default=0
        Print a line at the first iteration, every ``100 // verbose``
        iterations and at the last: the iteration, its objective (the
        value ``loss_curve_`` holds), the gap to the minimum in the units of
        ``dual_gap_`` (certified where the stop test formed a certificate,
        else the solver's estimate) and the step. For a progress bar instead,
        ``set_callbacks(sklearn.callback.ProgressBar())``; it draws with
        ``rich``, which ``pip install -e ".[progress]"`` installs from a
        checkout.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients ``W``; a scipy sparse matrix of the same shape after
        :meth:`sparsify` (predictions work with either).
    intercept_ : numpy scalar or ndarray of shape (n_targets,)
        Intercept ``b``; 0 when ``fit_intercept=False``. For a 1-D ``y``, a
        numpy scalar of the data's dtype (``np.float64`` or ``np.float32``),
        as ``LinearRegression`` gives it (a 0-d array for array-API inputs).
    n_iter_ : int
        Iterations run (calls, after ``partial_fit``): one count, since all
        targets are solved together, as ``ElasticNet`` and ``HuberRegressor``
        report theirs.
    loss_curve_ : list of float of length n_iter_
        Objective ``F`` (penalty included) after each iteration, in the units
        of ``y`` squared, as the formula above gives it; after
        ``partial_fit``, each call's batch objective (see there).
    dual_gap_ : float
        The certified bound on ``F - min F`` at the returned coefficients, in
        the units of ``loss_curve_`` (the solver's estimate where no
        certificate exists).
    solver_ : str
        The solver or solvers that ran, in order (``"bb -> newton"`` when
        ``solver="auto"`` handed over).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    GDLogisticRegression : Logistic regression by gradient descent.
    sklearn.linear_model.ElasticNet : The same objective by coordinate descent.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> from gdestimators import GDLinearRegression
    >>> X, y = load_diabetes(return_X_y=True)
    >>> gd = GDLinearRegression(tol=1e-10).fit(X, y)
    >>> ols = LinearRegression().fit(X, y)
    >>> bool(abs(gd.coef_ - ols.coef_).max() < 1e-4 * abs(ols.coef_).max())
    True
    """

    _parameter_constraints: dict = {
        **GDBase._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        alpha=0.0,
        *,
        l1_ratio=0.0,
        fit_intercept=True,
        solver="auto",
        learning_rate="auto",
        precondition="auto",
        max_iter=5000,
        tol=1e-12,
        warm_start=False,
        verbose=0,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.precondition = precondition
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. Sparse input is never densified; a dask array
            (chunked along samples) is persisted and read chunk by chunk
            where it lives, one map-reduce per evaluation.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets (a dask array is gathered: it is ``n_features`` times
            smaller than ``X``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight acts like repeating the
            sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if is_dask_collection(X):
            X, y, sample_weight = self._validate_dask_input(
                X, y, sample_weight, y_numeric=True, multi_output=True
            )
        else:
            xp, _, y, sample_weight = namespace_of_inputs(X, y, sample_weight)
            X, y = validate_data(
                self, X, y, accept_sparse=ACCEPTED_SPARSE, dtype=float_dtypes(xp),
                y_numeric=True, multi_output=True,
            )
        sample_weight = self._validate_sample_weight(sample_weight, X)
        self._solve(X, y, sample_weight, self._objective_settings(X, y, sample_weight))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Fit on one batch of a stream: the coefficients approach ``fit``'s on the stream.

        **What is minimised.** The stream's data set is the set of distinct
        batches passed so far. A batch passed again (identical ``X``, ``y``
        and ``sample_weight``, recognised by a digest of their bytes) is a
        further pass over data already counted, not new data. ``partial_fit``
        minimises the objective that :meth:`fit` minimises on the
        concatenation of the distinct batches, with the same ``alpha`` and
        ``l1_ratio`` (the penalty does not depend on the number of passes), and
        its coefficients approach ``fit``'s on that data as passes accumulate.
        Batches whose contents differ are new data, as they would be for
        ``fit``: a data set reshuffled into new batches before each pass counts
        once per pass (the minimiser is the same here, since ``alpha`` is in
        the mean form; keep the batches to save the work of new data).

        **How.** Each batch not seen before is absorbed at once: its exact
        loss plus a quadratic model of the other batches (and the penalty) is
        minimised by a few Newton iterations on the batch alone, then the
        batch's own quadratic model joins the others. Least squares models are
        exact, so after one pass the coefficients are ``fit``'s, to rounding.
        Later passes alternate between a pass that evaluates every batch at
        the same coefficients (they do not change during it) and a pass that
        absorbs each batch again in place of its model there: an incremental
        Newton method, which converges in a few passes whatever the order of
        the batches within a pass. A batch passed twice within a pass counts
        once. The memory kept is three matrices of the size of the Hessian of
        the coefficients (one ``(n_features + 1)``-square block for all
        targets) and a digest and a weight per distinct batch, nothing per
        sample.

        Where the Hessian would have more than 2048 coordinates, or with
        ``solver`` "gd", "nesterov" or "bb", each call instead takes one
        proximal gradient step on its batch's objective, of size
        ``learning_rate`` (or ``1/L`` of the first batch's curvature bound)
        times the batch's weight over the mean weight of the data set's
        batches, divided by ``sqrt(t)`` at call ``t``: it converges to the
        same minimiser, much more slowly.

        ``n_iter_`` counts the calls, and ``loss_curve_`` holds each batch's
        objective (its weighted mean loss plus the penalty) at the
        coefficients before its call. The first call starts from the
        coefficients of a previous ``fit``, if any; ``fit`` starts a new
        stream.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data; the number of features must not change.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets of the batch.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "coef_")
        xp, _, y, sample_weight = namespace_of_inputs(X, y, sample_weight)
        X, y = validate_data(
            self, X, y, accept_sparse=ACCEPTED_SPARSE, dtype=float_dtypes(xp),
            y_numeric=True, multi_output=True, reset=first_call,
        )
        if not first_call and y.ndim != self.coef_.ndim:
            previous = 1 if self.coef_.ndim == 1 else self.coef_.shape[0]
            raise ValueError(
                f"y has {1 if y.ndim == 1 else y.shape[1]} target(s), but the "
                f"previous calls had {previous}."
            )
        sample_weight = self._validate_sample_weight(sample_weight, X)
        # Batches are not rescaled: a scale per batch would weigh them
        # unequally. The penalty (mean form) does not depend on the data set.
        self._partial_fit_step(
            X, y, y, sample_weight,
            lambda data_weight: self._objective_settings(X, y, sample_weight, rescale=False),
        )
        return self

    def _objective_settings(self, X, y, sample_weight, rescale=True):
        """The objective to minimise: :class:`._problem.ObjectiveSettings`.

        With ``rescale``, the targets are divided by their largest magnitude
        ``t`` (the minimiser scales with it: ``W(t y) = t W(y)`` once the L1
        strength is divided by ``t``), so that targets of 1e-200 or 1e200
        neither underflow nor overflow; ``output_scale=t`` scales back.
        """
        xp = namespace(X)
        loss = SquaredError()
        Y = loss.encode_targets(y, X.dtype)
        magnitude = to_float(xp.max(xp.abs(Y))) if rescale else 1.0
        if not 0.0 < magnitude < float("inf"):
            magnitude = 1.0
        return ObjectiveSettings(
            loss, Y / magnitude,
            l2_strength=self.alpha * (1.0 - self.l1_ratio),
            l1_strength=self.alpha * self.l1_ratio / magnitude,
            output_scale=magnitude,
        )

    def _coefficient_attributes(self, w, b, target_ndim):
        """``coef_`` and ``intercept_`` in scikit-learn's shapes."""
        intercept = b if self.fit_intercept else namespace(b).zeros_like(b)
        if target_ndim == 1:
            # As LinearRegression: a numpy scalar of the data's dtype (a 0-d
            # array in other namespaces), not a Python float.
            return {"coef_": w[:, 0], "intercept_": intercept[0]}
        return {"coef_": w.T, "intercept_": intercept}

    @predict_method(lambda self: (
        None if self.coef_.ndim == 1 else self.coef_.shape[0], self.coef_.dtype
    ))
    def predict(self, X):
        """Predict with the fitted linear model, ``h = w^T X + b``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values; a lazy dask array for a dask ``X``.
        """
        z = self._decision_rows(X)
        return z[0, ...] if self.coef_.ndim == 1 else z.T
