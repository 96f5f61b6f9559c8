"""GDLogisticRegressionCV: every (fold, C, l1_ratio) model in shared passes over X."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metadata_routing import (
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from . import _cv_grid
from ._array_api import from_numpy, is_dask_collection, numpy_float_dtype, to_numpy
from ._base import float_dtypes, namespace_of_inputs
from ._batched_problem import build_batched_problem
from ._cv import (
    HeldOutClassifier,
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
from ._logistic import GDLogisticRegression
from ._losses import classification_loss


def _never(estimator):
    return False


class GDLogisticRegressionCV(GDLogisticRegression):
    """Logistic regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    Every (fold, ``C``, ``l1_ratio``) model is fitted at once: their
    coefficients are the columns of one matrix, so that each iteration reads
    ``X`` once for all of them (one product ``W^T X`` and one ``X R^T``), a
    fold being a per-model sample weight that is zero on its held-out rows.
    Each model has its own Barzilai–Borwein step (or Newton step, its
    Hessian formed in the shared pass), line search and stop test (those of
    :class:`GDLogisticRegression`: its relative objective gap certified
    below ``tol`` by its duality gap), and stops costing flops once
    converged. Each model's minimiser is that of ``GDLogisticRegression``
    fitted on its fold's training rows with its ``C`` and ``l1_ratio``; the
    chosen values are those of ``GridSearchCV`` over the same grid, folds
    and scoring. The change of variables is built once from the full data
    (it changes each model's path, not its minimiser).

    The API follows scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegressionCV` with
    ``use_legacy_attributes=False``.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        Values of ``C`` to try; an int ``n`` means ``n`` values on a
        logarithmic scale between 1e-4 and 1e4, as scikit-learn.
    l1_ratios : array-like of float, default=(0.0,)
        Values of ``l1_ratio`` to try, each in ``[0, 1]``.
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercept.
    cv : int, cross-validation generator or iterable, default=None
        As scikit-learn's ``cv``: None means 5-fold stratified.
    scoring : str or callable, default=None
        A scorer name or callable; None means accuracy. Scikit-learn's
        scorers are answered from the held-out logits of the batched fit; a
        plain callable ``scoring(estimator, X, y)`` gets a fitted
        ``GDLogisticRegression`` and the held-out rows.
    refit : bool, default=True
        Refit on all the data with the best ``C`` and ``l1_ratio`` (a
        :class:`GDLogisticRegression` fit). Otherwise ``coef_`` is the mean
        of the folds' best models and ``C_`` the mean of their ``C``.
    class_weight : dict, "balanced" or None, default=None
        As in :class:`GDLogisticRegression`; "balanced" is computed on each
        fold's training rows (as ``GridSearchCV`` would), and on all the
        data for the refit.
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
        The change of variables, as in :class:`GDLogisticRegression`,
        chosen per penalty.
    max_iter : int, default=5000
        Maximum number of iterations of each model.
    tol : float, default=1e-12
        Each model stops when its objective ``F`` (penalty included) is
        certified to be within ``tol * F`` of its minimum, as a
        :class:`GDLogisticRegression` fit: ``(F - min F) / F <= tol``, certified by
        its duality gap (a model without any penalty has none and stops on
        the solver's estimate of its gap). Raised to 128 machine epsilons of
        the data's dtype. A model that has converged stops costing flops.
    verbose : int, default=0
        Print progress across all models every ``100 // verbose`` iterations.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients of the refitted (or averaged) model.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Its intercepts.
    Cs_ : ndarray of shape (n_cs,)
        The values of ``C`` tried.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The values of ``l1_ratio`` tried.
    C_ : float
        The chosen ``C``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        Held-out score of every model.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_cs, n_rows, n_dof)
        Every model's coefficients, the intercept last when fitted
        (``n_rows`` is 1 for two classes, ``n_classes`` otherwise;
        ``n_dof = n_features + fit_intercept``).
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        Iterations of every model.
    n_passes_ : int
        Passes over ``X`` of the cross-validation (shared by all models).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    GDLogisticRegression : One model, by gradient descent.
    sklearn.linear_model.LogisticRegressionCV : The same search, one model at a time.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from gdestimators import GDLogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = GDLogisticRegressionCV(Cs=[0.01, 1.0, 100.0]).fit(X, y)
    >>> clf.scores_.shape
    (5, 1, 3)
    >>> float(clf.C_) in [0.01, 1.0, 100.0]
    True
    >>> float(clf.score(X, y)) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        "fit_intercept": ["boolean"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions({"auto", "bb", "newton"})],
        "precondition": [StrOptions({"auto", "full", "diagonal", "none"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=(0.0,),
        fit_intercept=True,
        cv=None,
        scoring=None,
        refit=True,
        class_weight=None,
        solver="auto",
        precondition="auto",
        max_iter=5000,
        tol=1e-12,
        verbose=0,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.class_weight = class_weight
        self.solver = solver
        self.precondition = precondition
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit every (fold, C, l1_ratio) model, choose the best, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data (sparse input as CSR, never densified).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, for the fits and (without metadata
            routing) the scores.
        **params : dict
            With metadata routing enabled, metadata for the splitter
            (``groups``) and the scorer.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        split_params, score_params = routed_parameters(self, sample_weight, params)
        l1_ratios = np.asarray(self.l1_ratios, dtype=float).ravel()
        if l1_ratios.size == 0 or np.any((l1_ratios < 0) | (l1_ratios > 1)):
            raise ValueError(
                f"l1_ratios must hold numbers between 0 and 1; got {self.l1_ratios!r}."
            )
        Cs = (np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, Integral)
              else np.asarray(self.Cs, dtype=float).ravel())
        if Cs.size == 0 or not np.all(Cs > 0):
            raise ValueError(f"Cs must hold positive numbers; got {self.Cs!r}.")
        if is_dask_collection(X):
            X, y, sample_weight = self._validate_dask_input(X, y, sample_weight)
        else:
            xp, _, sample_weight = namespace_of_inputs(X, sample_weight)
            X, y = validate_data(
                self, X, y, accept_sparse="csr", dtype=float_dtypes(xp)
            )
        y = to_numpy(y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]!r}."
            )
        sample_weight = self._validate_sample_weight(sample_weight, X)
        weights = np.asarray(to_numpy(sample_weight), dtype=np.float64)
        folds = make_folds(self.cv, X, y, classifier=True, split_params=split_params)
        fold_weights = [self._fold_weight(weights, y, y_index, train) for train, _ in folds]
        like = X if not is_dask_collection(X) else np.empty(0, dtype=X.dtype)
        fold_weight_array = fold_weight_matrix(fold_weights, like)

        loss = classification_loss(self.classes_.shape[0])
        Y = loss.encode_targets(y_index, numpy_float_dtype(X))
        if not is_dask_collection(X):
            Y = from_numpy(Y, like=X)
        samples = make_fold_samples(X, Y, sample_weight, fold_weight_array)
        fold_totals = np.asarray([w.sum() for w in fold_weights])
        grid = _cv_grid.model_grid(
            len(folds), Cs, l1_ratios, fold_totals, float(np.mean(fold_totals)),
            strengths=lambda C, total: 1.0 / (C * total),
        )
        problem = build_batched_problem(
            samples, loss, grid, fit_intercept=self.fit_intercept,
            precondition=self.precondition, n_outputs=Y.shape[0],
        )
        indices, warm_from = _cv_grid.stages(
            _cv_grid.STRATEGY, len(folds), Cs.size, l1_ratios.size, np.argsort(Cs)
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
        logits = held_out_logits(problem, theta, folds)
        scorer = get_scorer(self.scoring if self.scoring is not None else "accuracy")
        scores = fold_scores(
            scorer, lambda z: HeldOutClassifier(self.classes_, z),
            lambda index: self._model(w[:, index, :], b[index], X),
            X, y, folds, logits, grid.folds, score_params,
        )
        shape = (len(folds), Cs.size, l1_ratios.size)
        n_folds, n_cs, n_l1 = shape
        paths = np.concatenate([np.moveaxis(w, 0, 2), b[:, :, None]], axis=2)
        if not self.fit_intercept:
            paths = paths[:, :, :-1]
        scores_ = _cv_grid.per_model(scores, n_folds, n_cs, n_l1)
        coefs_paths_ = _cv_grid.per_model(paths, n_folds, n_cs, n_l1)
        n_iter_ = _cv_grid.per_model(n_iter, n_folds, n_cs, n_l1)
        self._choose(X, y, sample_weight, Cs, l1_ratios, scores_, coefs_paths_)
        set_fitted_arrays(
            self, X, float_names=("coefs_paths_",), Cs_=Cs, l1_ratios_=l1_ratios,
            scores_=scores_, coefs_paths_=coefs_paths_, n_iter_=n_iter_,
        )
        return self

    def _fold_weight(self, weights, y, y_index, train):
        """A fold's training weights: sample times class weights, zero elsewhere."""
        fold = np.zeros_like(weights)
        fold[train] = weights[train]
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y[train],
                sample_weight=weights[train],
            )
            fold[train] *= per_class[y_index[train]]
        if not fold.sum() > 0:
            raise ValueError(
                "A fold's sample weights times class weights sum to zero: no "
                "training sample is left in it."
            )
        return fold

    def _model(self, w, b, X):
        """A fitted :class:`GDLogisticRegression` with coefficients ``w``, ``b`` (numpy)."""
        model = GDLogisticRegression(fit_intercept=self.fit_intercept)
        model.classes_ = self.classes_
        model.n_features_in_ = self.n_features_in_
        like = X if not is_dask_collection(X) else np.empty(0)
        model.coef_ = from_numpy(w.T, like=like)
        model.intercept_ = from_numpy(b if self.fit_intercept else np.zeros_like(b), like=like)
        return model

    def _choose(self, X, y, sample_weight, Cs, l1_ratios, scores, paths):
        """Set ``C_``, ``l1_ratio_``, ``coef_`` and ``intercept_`` from the scores."""
        if self.refit:
            best_c, best_l1 = _cv_grid.best_penalty(scores)
            self.C_, self.l1_ratio_ = float(Cs[best_c]), float(l1_ratios[best_l1])
            model = GDLogisticRegression(
                C=self.C_, l1_ratio=self.l1_ratio_, fit_intercept=self.fit_intercept,
                class_weight=self.class_weight, solver=self.solver,
                precondition=self.precondition, max_iter=self.max_iter, tol=self.tol,
                verbose=max(0, self.verbose - 1),
            )
            model.fit(X, y, sample_weight=sample_weight)
            self.coef_, self.intercept_ = model.coef_, model.intercept_
            return
        best = [_cv_grid.best_penalty(fold_scores[None]) for fold_scores in scores]
        self.C_ = float(np.mean([Cs[c] for c, _ in best]))
        self.l1_ratio_ = float(np.mean([l1_ratios[l1] for _, l1 in best]))
        mean = np.mean([paths[fold, l1, c] for fold, (c, l1) in enumerate(best)], axis=0)
        n_features = self.n_features_in_
        w = mean[:, :n_features].T
        b = mean[:, n_features] if self.fit_intercept else np.zeros(mean.shape[0])
        model = self._model(w, b, X)
        self.coef_, self.intercept_ = model.coef_, model.intercept_



    def score(self, X, y, sample_weight=None, **score_params):
        """Score the fitted model with ``scoring`` (accuracy when None).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
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
        scorer = get_scorer(self.scoring if self.scoring is not None else "accuracy")
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
        scorer = get_scorer(self.scoring if self.scoring is not None else "accuracy")
        return metadata_router(self, scorer)

    @available_if(_never)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Not available: a cross-validated fit needs all the data at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Unused.
        y : array-like of shape (n_samples,)
            Unused.
        sample_weight : array-like of shape (n_samples,), default=None
            Unused.
        classes : array-like of shape (n_classes,), default=None
            Unused.

        Returns
        -------
        self : object
            Never returns.
        """
        raise AttributeError("partial_fit")

