"""GDLinearRegressionCV: every (fold, alpha, l1_ratio) model in shared passes over X."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled, process_routing
from sklearn.utils.validation import validate_data

from . import _cv_grid
from ._array_api import from_numpy, is_dask_collection, numpy_float_dtype, to_numpy
from ._base import float_dtypes, namespace_of_inputs
from ._batched_problem import build_batched_problem
from ._cv import (
    HeldOutRegressor,
    fold_scores,
    fold_weight_matrix,
    held_out_logits,
    make_fold_samples,
    make_folds,
    metadata_router,
    progress_log,
    routed_parameters,
    run_models,
    set_fitted_arrays,
    warn_unconverged,
)
from ._linear import GDLinearRegression
from ._losses import SquaredError

#: ``l1_ratio`` at which the automatic grid of pure ridge starts, as glmnet.
_RIDGE_GRID_L1_RATIO = 1e-3


def _never(estimator):
    return False


def alpha_max(X, Y, sample_weight, l1_ratio, fit_intercept):
    """The smallest ``alpha`` at which every coefficient is zero (numpy inputs on the host).

    ``max_jk |X^T diag(s) (y_k - ybar_k)|_j / (S l1_ratio)``: at ``w = 0``
    the optimality condition of the (separable) L1 penalty holds exactly
    below this value. Centring ``y`` by its weighted mean makes the centring
    of ``X`` unnecessary (``sum_i s_i (y_i - ybar) = 0``).

    Parameters
    ----------
    X : array, sparse matrix or dask array of shape (m, n_features)
    Y : ndarray of shape (m, k)
        Targets in the user's units.
    sample_weight : ndarray of shape (m,)
    l1_ratio : float
        In ``(0, 1]``.
    fit_intercept : bool

    Returns
    -------
    alpha_max : float
    """
    total = float(np.sum(sample_weight))
    if fit_intercept:
        Y = Y - (sample_weight @ Y) / total
    weighted = Y * sample_weight[:, None]
    if is_dask_collection(X):
        correlation = np.asarray((X.T @ weighted.astype(X.dtype)).compute())
    elif isinstance(X, np.ndarray) or hasattr(X, "tocsr"):
        correlation = np.asarray(X.T @ weighted)
    else:
        weighted = from_numpy(weighted.astype(numpy_float_dtype(X)), like=X)
        correlation = to_numpy(X.T @ weighted)
    return float(np.max(np.abs(correlation))) / (total * l1_ratio)


def alpha_grid(X, Y, sample_weight, l1_ratio, *, fit_intercept, eps, n_alphas):
    """``n_alphas`` values from :func:`alpha_max` down to ``eps`` times it, geometrically.

    Pure ridge (``l1_ratio=0``) has no ``alpha`` with all-zero coefficients;
    its grid is glmnet's: that of ``l1_ratio=0.001``, whose largest ``alpha``
    shrinks the coefficients far towards zero.
    """
    top = alpha_max(X, Y, sample_weight, max(l1_ratio, _RIDGE_GRID_L1_RATIO), fit_intercept)
    resolution = float(np.finfo(np.float64).resolution)
    if not top > resolution:
        return np.full(n_alphas, resolution)
    return np.geomspace(top, top * eps, num=n_alphas)


class GDLinearRegressionCV(GDLinearRegression):
    """Least squares with ``alpha`` (and ``l1_ratio``) chosen by cross-validation.

    Every (fold, ``alpha``, ``l1_ratio``) model is fitted at once, sharing
    each pass over ``X`` (see :class:`GDLogisticRegressionCV`): a fold is a
    per-model sample weight that is zero on its held-out rows, and each
    model has its own step, line search and stop test (those of
    :class:`GDLinearRegression`: its relative objective gap certified below
    ``tol``, by its duality gap). Each model's minimiser is that of
    ``GDLinearRegression`` on its fold's training rows; the chosen values
    are those of ``GridSearchCV`` over the same grid, folds and scoring.

    The API follows scikit-learn's :class:`~sklearn.linear_model.ElasticNetCV`.
    Several outputs are fitted together, with the element-wise (separable)
    L1 penalty of :class:`GDLinearRegression`, not the row-wise one of
    ``MultiTaskElasticNetCV``.

    Parameters
    ----------
    alphas : int or array-like of float, default=100
        Values of ``alpha`` to try. An int ``n`` builds, for each
        ``l1_ratio > 0``, ``n`` values from ``alpha_max`` (the smallest
        ``alpha`` with all-zero coefficients) down to ``eps * alpha_max`` on
        a logarithmic scale, as ``ElasticNetCV``. For ``l1_ratio=0`` (ridge)
        the grid is that of ``l1_ratio=0.001`` (glmnet's convention): its
        largest ``alpha`` shrinks the coefficients to about a thousandth of
        the lasso's threshold.
    l1_ratio : float or array-like of float, default=0.5
        Values of ``l1_ratio`` to try, each in ``[0, 1]``.
    eps : float, default=1e-3
        Length of the automatic grid: ``alpha_min / alpha_max``.
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercept.
    cv : int, cross-validation generator or iterable, default=None
        As scikit-learn's ``cv``: None means 5-fold.
    scoring : str or callable, default=None
        None: the held-out mean squared error, weighted by the held-out
        sample weights, as ``ElasticNetCV``. Otherwise a scorer name or
        callable, as in :class:`GDLogisticRegressionCV`.
    solver : {"auto", "bb", "newton"}, default="auto"
        How every model is solved, all models sharing each pass over ``X``.
        ``"bb"``: Barzilai–Borwein steps, each model its own step and line
        search. ``"newton"``: Newton's method, each model its own Hessian,
        all formed in one pass (proximal Newton with an L1 part).
        ``"auto"``: Barzilai–Borwein steps, the models still running after
        as many passes as Newton's method would need to finish handed over
        to it (as ``solver="auto"`` of a single fit). Data in a dask array
        run ``"bb"``. The refit uses the same ``solver``.
    precondition : {"auto", "full", "diagonal", "none"}, default="auto"
        The change of variables, as in :class:`GDLinearRegression`, chosen
        per penalty and built from the full data.
    max_iter : int, default=5000
        Maximum number of iterations of each model.
    tol : float, default=1e-12
        Each model stops when its objective ``F`` (penalty included) is
        certified to be within ``tol * F`` of its minimum, as a
        :class:`GDLinearRegression` fit: ``(F - min F) / F <= tol``, certified by
        its duality gap (a model without any penalty has none and stops on
        the solver's estimate of its gap). Raised to 128 machine epsilons of
        the data's dtype. A model that has converged stops costing flops.
    verbose : int, default=0
        Print progress across all models every ``100 // verbose`` iterations.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    alphas_ : ndarray of shape (n_l1_ratios, n_alphas) or (n_alphas,)
        The grid, decreasing (one row per ``l1_ratio`` for an automatic grid
        of several ``l1_ratio``).
    mse_path_ : ndarray of shape (n_l1_ratios, n_alphas, n_folds) or (n_alphas, n_folds)
        Held-out mean squared error of every model.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        Held-out score of every model (``-mse`` when ``scoring`` is None).
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas, n_targets, n_dof)
        Every model's coefficients, the intercept last when fitted.
    n_iter_path_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        Iterations of every model.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients of the refit on all the data.
    intercept_ : float or ndarray of shape (n_targets,)
        Its intercept.
    n_iter_ : int
        Iterations of the refit.
    n_passes_ : int
        Passes over ``X`` of the cross-validation (shared by all models).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    GDLinearRegression : One model, by gradient descent.
    sklearn.linear_model.ElasticNetCV : The same search along a path, by coordinate descent.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from gdestimators import GDLinearRegressionCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = GDLinearRegressionCV(alphas=10, l1_ratio=[0.5, 1.0]).fit(X, y)
    >>> reg.mse_path_.shape
    (2, 10, 5)
    >>> reg.alpha_ in reg.alphas_
    True
    >>> float(reg.score(X, y)) > 0.4
    True
    """

    _parameter_constraints: dict = {
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "solver": [StrOptions({"auto", "bb", "newton"})],
        "precondition": [StrOptions({"auto", "full", "diagonal", "none"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        alphas=100,
        l1_ratio=0.5,
        eps=1e-3,
        fit_intercept=True,
        cv=None,
        scoring=None,
        solver="auto",
        precondition="auto",
        max_iter=5000,
        tol=1e-12,
        verbose=0,
    ):
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.solver = solver
        self.precondition = precondition
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit every (fold, alpha, l1_ratio) model, choose the best, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data (sparse input as CSR, never densified).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, for the fits and the held-out errors.
        **params : dict
            With metadata routing enabled, metadata for the splitter
            (``groups``) and the scorer.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        split_params, score_params = routed_parameters(self, sample_weight, params)
        l1_ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=float)).ravel()
        if l1_ratios.size == 0 or np.any((l1_ratios < 0) | (l1_ratios > 1)):
            raise ValueError(
                f"l1_ratio must hold numbers between 0 and 1; got {self.l1_ratio!r}."
            )
        if not isinstance(self.alphas, Integral):
            given = np.asarray(self.alphas, dtype=float).ravel()
            if given.size == 0 or np.any(given < 0) or not np.all(np.isfinite(given)):
                raise ValueError(
                    f"alphas must hold non-negative finite numbers; got {self.alphas!r}."
                )
        if is_dask_collection(X):
            X, y, sample_weight = self._validate_dask_input(
                X, y, sample_weight, y_numeric=True, multi_output=True
            )
        else:
            xp, _, y, sample_weight = namespace_of_inputs(X, y, sample_weight)
            X, y = validate_data(
                self, X, y, accept_sparse="csr", dtype=float_dtypes(xp),
                y_numeric=True, multi_output=True,
            )
        sample_weight = self._validate_sample_weight(sample_weight, X)
        weights = np.asarray(to_numpy(sample_weight), dtype=np.float64)
        y_host = np.asarray(to_numpy(y), dtype=np.float64)
        Y_user = y_host[:, None] if y_host.ndim == 1 else y_host
        folds = make_folds(self.cv, X, y_host, classifier=False, split_params=split_params)
        fold_weights = []
        for train, _ in folds:
            fold = np.zeros_like(weights)
            fold[train] = weights[train]
            if not fold.sum() > 0:
                raise ValueError("A fold's sample weights sum to zero.")
            fold_weights.append(fold)
        like = X if not is_dask_collection(X) else np.empty(0, dtype=X.dtype)
        dtype = numpy_float_dtype(like)

        if isinstance(self.alphas, Integral):
            alphas = np.stack([
                alpha_grid(X, Y_user, weights, l1_ratio, fit_intercept=self.fit_intercept,
                           eps=self.eps, n_alphas=self.alphas)
                for l1_ratio in l1_ratios
            ])
        else:
            alphas = np.tile(np.sort(given)[::-1], (l1_ratios.size, 1))
        magnitude = float(np.max(np.abs(Y_user)))
        if not 0.0 < magnitude < np.inf:
            magnitude = 1.0
        Y_scaled = (Y_user / magnitude).T
        Y = Y_scaled.astype(dtype)
        if not is_dask_collection(X):
            Y = from_numpy(Y, like=X)
        samples = make_fold_samples(X, Y, sample_weight, fold_weight_matrix(fold_weights, like))
        fold_totals = np.asarray([w.sum() for w in fold_weights])
        grid = _cv_grid.model_grid(
            len(folds), alphas, l1_ratios, fold_totals, float(np.mean(fold_totals)),
            strengths=lambda alpha, total: alpha,
            output_scale=magnitude,
        )
        problem = build_batched_problem(
            samples, SquaredError(), grid, fit_intercept=self.fit_intercept,
            precondition=self.precondition, n_outputs=Y_scaled.shape[0],
            output_scale=magnitude,
        )
        n_folds, n_l1, n_alphas = len(folds), l1_ratios.size, alphas.shape[1]
        indices, warm_from = _cv_grid.stages(
            _cv_grid.STRATEGY, n_folds, n_alphas, n_l1, np.arange(n_alphas)
        )
        log, close = progress_log(self, self.verbose, X, y, {"sample_weight": sample_weight},
                                  len(indices) * (self.max_iter + 1))
        tol = self._effective_tol(X)
        theta, n_iter, converged, stalled, relative_gap, certified, n_passes = run_models(
            problem, indices, max_iter=self.max_iter, tol=tol, log=log, warm_from=warm_from,
            solver=self.solver,
        )
        close()
        self.n_passes_ = int(n_passes)
        warn_unconverged(self, converged, stalled, relative_gap, certified, tol)

        w, b = problem.coefficients(theta, problem.active(np.arange(grid.n_models)))
        w, b = to_numpy(w), to_numpy(b)
        predictions = held_out_logits(problem, theta, folds)
        mse = np.asarray([
            np.average(np.mean((predictions[index].T - Y_user[folds[fold][1]]) ** 2, axis=1),
                       weights=weights[folds[fold][1]])
            for index, fold in enumerate(grid.folds)
        ])
        if self.scoring is None:
            scores = -mse
        else:
            scores = fold_scores(
                get_scorer(self.scoring),
                lambda z: HeldOutRegressor(z, y_host.ndim == 1),
                lambda index: self._model(w[:, index, :], b[index], X, y_host.ndim),
                X, y_host, folds, predictions, grid.folds, score_params,
            )
        paths = np.concatenate([np.moveaxis(w, 0, 2), b[:, :, None]], axis=2)
        if not self.fit_intercept:
            paths = paths[:, :, :-1]
        scores_ = _cv_grid.per_model(scores, n_folds, n_alphas, n_l1)
        mse_path = np.moveaxis(_cv_grid.per_model(mse, n_folds, n_alphas, n_l1), 0, 2)
        best_alpha, best_l1 = _cv_grid.best_penalty(scores_)
        self.alpha_ = float(alphas[best_l1, best_alpha])
        self.l1_ratio_ = float(l1_ratios[best_l1])
        model = GDLinearRegression(
            alpha=self.alpha_, l1_ratio=self.l1_ratio_, fit_intercept=self.fit_intercept,
            solver=self.solver, precondition=self.precondition, max_iter=self.max_iter,
            tol=self.tol, verbose=max(0, self.verbose - 1),
        ).fit(X, y, sample_weight=sample_weight)
        self.coef_, self.intercept_, self.n_iter_ = model.coef_, model.intercept_, model.n_iter_
        alphas_ = alphas[0] if (n_l1 == 1 or not isinstance(self.alphas, Integral)) else alphas
        set_fitted_arrays(
            self, X, float_names=("coefs_paths_",), alphas_=alphas_,
            mse_path_=mse_path[0] if n_l1 == 1 else mse_path,
            scores_=scores_, coefs_paths_=_cv_grid.per_model(paths, n_folds, n_alphas, n_l1),
            n_iter_path_=_cv_grid.per_model(n_iter, n_folds, n_alphas, n_l1),
        )
        return self

    def _model(self, w, b, X, target_ndim):
        """A fitted :class:`GDLinearRegression` with coefficients ``w``, ``b`` (numpy)."""
        model = GDLinearRegression(fit_intercept=self.fit_intercept)
        model.n_features_in_ = self.n_features_in_
        like = X if not is_dask_collection(X) else np.empty(0)
        if target_ndim == 1:
            model.coef_ = from_numpy(w[:, 0], like=like)
            model.intercept_ = float(b[0]) if self.fit_intercept else 0.0
        else:
            model.coef_ = from_numpy(w.T, like=like)
            model.intercept_ = from_numpy(b if self.fit_intercept else 0 * b, like=like)
        return model



    def score(self, X, y, sample_weight=None, **score_params):
        """Score the fitted model with ``scoring`` (R² when None, as ``ElasticNetCV``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the scorer.
        **score_params : dict
            With metadata routing enabled, metadata for the scorer.

        Returns
        -------
        score : float
            The score of the model on ``(X, y)``.
        """
        _raise_for_params(score_params, self, "score")
        scorer = get_scorer(self.scoring if self.scoring is not None else "r2")
        if _routing_enabled():
            params = process_routing(
                self, "score", sample_weight=sample_weight, **score_params
            ).scorer.score
        else:
            params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return float(scorer(self, X, y, **params))

    def get_metadata_routing(self):
        """Get the metadata routing of this estimator.

        Returns
        -------
        routing : MetadataRouter
            ``sample_weight`` for ``fit``; ``groups`` and other metadata
            routed to the splitter (``split``) and the scorer (``score``).
        """
        scorer = get_scorer(self.scoring if self.scoring is not None else "r2")
        return metadata_router(self, scorer)

    @available_if(_never)
    def partial_fit(self, X, y, sample_weight=None):
        """Not available: a cross-validated fit needs all the data at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Unused.
        y : array-like of shape (n_samples,)
            Unused.
        sample_weight : array-like of shape (n_samples,), default=None
            Unused.

        Returns
        -------
        self : object
            Never returns.
        """
        raise AttributeError("partial_fit")

