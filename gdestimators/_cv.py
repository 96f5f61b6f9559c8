"""What both cross-validated estimators share: folds, routing, the batched run, scoring.

A cross-validated fit is one batched solve (:mod:`._solvers._batched`) of
every (fold, penalty) model, then one pass over the held-out rows for their
predictions, then the scores. Scoring reuses scikit-learn's scorers on a
stand-in estimator that answers ``predict``, ``predict_proba``,
``decision_function`` and ``predict_log_proba`` from the held-out logits
already computed, so that no held-out block of ``X`` is copied. A plain
callable ``scoring(estimator, X, y)`` (not a scikit-learn scorer) receives a
real fitted estimator and the held-out rows of ``X`` instead.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics._scorer import _BaseScorer
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params

from ._array_api import (
    array_device,
    from_numpy,
    is_dask_collection,
    namespace,
    numpy_float_dtype,
    to_numpy,
)
from ._batched_problem import FoldSamples
from ._losses import sigmoid, softmax
from ._solvers._batched import BatchedLog, BatchedStopTest, batched_barzilai_borwein
from ._solvers._batched_newton import batched_newton


def routed_parameters(estimator, sample_weight, params):
    """Parameters for the splitter (``split``) and the scorer (``score``).

    As scikit-learn's ``LogisticRegressionCV``: without metadata routing,
    ``sample_weight`` goes to the fit and the scorer and nothing else is
    accepted; with routing, each consumer receives what it requested
    (``groups`` for a group splitter, ``sample_weight`` for a scorer that
    asked for it).
    """
    _raise_for_params(params, estimator, "fit")
    if _routing_enabled():
        routed = process_routing(estimator, "fit", sample_weight=sample_weight, **params)
        return dict(routed.splitter.split), dict(routed.scorer.score)
    score = {} if sample_weight is None else {"sample_weight": sample_weight}
    return {}, score


def metadata_router(estimator, scorer):
    """The router of a CV estimator: itself, its splitter (fit), its scorer (fit, score)."""
    return (
        MetadataRouter(owner=estimator)
        .add_self_request(estimator)
        .add(
            splitter=check_cv(estimator.cv),
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
        .add(
            scorer=scorer,
            method_mapping=MethodMapping().add(caller="score", callee="score")
            .add(caller="fit", callee="score"),
        )
    )


def make_folds(cv, X, y, *, classifier, split_params):
    """The ``(train, test)`` index arrays of the splitter ``cv``."""
    splitter = check_cv(cv, y, classifier=classifier)
    # A dask or device X is only counted by the splitters: a host stand-in
    # of its length spares a transfer.
    stand_in = X if (isinstance(X, np.ndarray) or hasattr(X, "tocsr")) else (
        np.empty((X.shape[0], 0))
    )
    folds = [
        (np.sort(np.asarray(train)), np.sort(np.asarray(test)))
        for train, test in splitter.split(stand_in, y, **split_params)
    ]
    if not folds:
        raise ValueError(f"The splitter {splitter!r} gave no folds.")
    return folds


def fold_weight_matrix(fold_weights, like):
    """Stack the folds' weight vectors (numpy) into ``X``'s namespace and dtype."""
    dtype = np.float32 if str(getattr(like, "dtype", "")).endswith("float32") else np.float64
    return from_numpy(np.stack(fold_weights).astype(dtype), like=like)


def make_fold_samples(X, Y, sample_weight, fold_weights):
    """The samples object for the batched pass: in memory or in a dask array's chunks."""
    if is_dask_collection(X):
        from ._dask import DaskFoldSamples

        return DaskFoldSamples(X, Y, sample_weight, fold_weights)
    return FoldSamples(X, Y, sample_weight, fold_weights)


def run_models(problem, indices_by_stage, *, max_iter, tol, log, warm_from=None,
               solver="auto"):
    """Solve the models of ``problem``, stage by stage.

    Parameters
    ----------
    problem : BatchedProblem
        All models.
    indices_by_stage : list of ndarray
        Grid positions solved together in each stage. One stage holding
        every model is the batched strategy; one stage per penalty (all
        folds together, strongest penalty first) with ``warm_from`` is the
        warm-started path.
    max_iter, tol : int, float
        Of every model.
    log : BatchedLog
        Progress.
    warm_from : callable, default=None
        ``stage -> grid positions`` whose solutions start the models of the
        stage (one per model, in the same order), or None for cold starts.
    solver : {"auto", "bb", "newton"}, default="auto"
        ``"bb"``: Barzilai–Borwein steps. ``"newton"``: Newton's method
        (where the samples give Hessians). ``"auto"``: as for one fit,
        Barzilai–Borwein steps, the models still running after as many
        passes as Newton's method would need to finish (``NEWTON_ITERATIONS``
        Hessians) handed over to it.

    Returns
    -------
    theta : array of shape (n_rows, M, k)
        Every model's solution, in grid order.
    n_iter, converged, stalled, relative_gap, certified : ndarray of shape (M,)
        Per model.
    n_passes : int
        Passes over ``X``.
    """
    grid = problem.grid
    n_models = grid.n_models
    patience = _newton_patience(problem, solver, max_iter)
    pieces, n_passes, stop = {}, 0, None
    for stage, indices in enumerate(indices_by_stage):
        models = problem.active(indices)
        previous = None if warm_from is None else warm_from(stage)
        if previous is None or any(index not in pieces for index in previous):
            start = problem.start(models)
        else:
            source = problem.active(np.asarray(previous))
            xp = namespace(pieces[previous[0]][0])
            stacked = xp.concat([pieces[index][0] for index in previous], axis=1)
            w, b = problem.to_original(stacked, source)
            start = problem.from_original(w, b, models)
        if stop is None:
            stop = BatchedStopTest(problem, tol, start, n_models)
        result = batched_barzilai_borwein(problem, models, start, max_iter=min(patience, max_iter),
                                          tol=tol, log=log, stop=stop)
        n_passes += result.n_passes
        theta, n_iter = result.theta, result.n_iter
        converged, stalled = result.converged, result.stalled
        left = np.flatnonzero(~converged & (n_iter < max_iter))
        if left.size and patience < max_iter:
            xp = namespace(theta)
            positions = xp.asarray(left, dtype=xp.int64, device=array_device(theta))
            log.note(f"handing {left.size} of {models.size} models over to Newton's method")
            solved, n_iter_left, converged_left, stalled_left, _, passes = batched_newton(
                problem, problem.active(indices[left]), xp.take(theta, positions, axis=1),
                max_iter=max_iter, tol=tol, log=log, stop=stop, n_iter=n_iter[left],
            )
            n_passes += passes
            theta = _put_columns(theta, left, solved)
            n_iter, converged, stalled = n_iter.copy(), converged.copy(), stalled.copy()
            n_iter[left], converged[left], stalled[left] = (
                n_iter_left, converged_left, stalled_left)
        for position, index in enumerate(indices):
            pieces[int(index)] = (
                theta[:, position:position + 1, ...], n_iter[position], converged[position],
                stalled[position],
            )
    xp = namespace(pieces[0][0])
    theta = xp.concat([pieces[index][0] for index in range(n_models)], axis=1)
    vectors = [np.asarray([pieces[index][field] for index in range(n_models)])
               for field in range(1, 4)]
    n_passes += stop.n_passes
    log.finish(vectors[1], vectors[0], n_passes)
    return (theta, *vectors, stop.relative_gap.copy(), stop.certified.copy(), n_passes)


def _newton_patience(problem, solver, max_iter):
    """Iterations of Barzilai–Borwein steps before Newton's method takes over."""
    from ._solvers._auto import MAX_NEWTON_SIZE, MIN_PATIENCE, NEWTON_ITERATIONS

    size = problem.n_rows * problem.n_outputs
    if solver == "bb" or not problem.has_hessian or size > MAX_NEWTON_SIZE:
        return max_iter
    if solver == "newton":
        return 0
    return max(MIN_PATIENCE, int(NEWTON_ITERATIONS * problem.hessian_cost()))


def _put_columns(array, local, values):
    """``array`` with its columns ``local`` (axis 1) replaced by ``values``."""
    xp = namespace(array)
    n = array.shape[1]
    mask = np.zeros(n, dtype=bool)
    mask[local] = True
    source = np.zeros(n, dtype=int)
    source[local] = np.arange(local.size)
    gathered = xp.take(values, xp.asarray(source, dtype=xp.int64,
                                          device=array_device(array)), axis=1)
    return xp.where(from_numpy(mask, like=array)[None, :, None], gathered, array)


def held_out_logits(problem, theta, folds):
    """Each model's logits on its fold's held-out rows (numpy, float64).

    One pass over the held-out rows (each fold's rows with that fold's
    models), in blocks.

    Returns
    -------
    logits : list of ndarray of shape (k, n_test)
        One per model, in grid order; in the user's units.
    """
    grid = problem.grid
    logits = [None] * grid.n_models
    for fold, (_, test) in enumerate(folds):
        indices = np.flatnonzero(grid.folds == fold)
        models = problem.active(indices)
        xp = namespace(theta)
        columns = xp.take(theta, xp.asarray(indices, dtype=xp.int64,
                                             device=_device(theta)), axis=1)
        w, b = problem.coefficients(columns, models)
        z = to_numpy(problem.samples.held_out_logits(w, b, test)).astype(np.float64)
        for position, index in enumerate(indices):
            logits[index] = z[position]
    return logits


def _device(array):
    from ._array_api import array_device

    return array_device(array)


class HeldOutClassifier(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose "samples" are positions in held-out logits.

    Scorers call its prediction methods with ``X`` of shape ``(n, 1)``
    holding row positions; it answers from the logits of one model.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        The labels.
    logits : ndarray of shape (k, n_test)
        The model's logits on the held-out rows.
    """

    def __init__(self, classes, logits):
        self.classes = classes
        self.logits = logits
        self.classes_ = classes

    def decision_function(self, X):
        """Logits of the rows ``X[:, 0]``."""
        z = self.logits[:, np.asarray(X)[:, 0]]
        return z[0] if z.shape[0] == 1 else z.T

    def predict_proba(self, X):
        """Probabilities of the rows ``X[:, 0]``."""
        z = self.logits[:, np.asarray(X)[:, 0]]
        if z.shape[0] == 1:
            positive = sigmoid(z[0])
            return np.stack([1.0 - positive, positive], axis=1)
        return softmax(z).T

    def predict_log_proba(self, X):
        """Log-probabilities of the rows ``X[:, 0]``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Labels of the rows ``X[:, 0]``."""
        z = self.logits[:, np.asarray(X)[:, 0]]
        index = (z[0] > 0).astype(int) if z.shape[0] == 1 else np.argmax(z, axis=0)
        return self.classes[index]


class HeldOutRegressor(RegressorMixin, BaseEstimator):
    """A fitted regressor answering from held-out predictions (see :class:`HeldOutClassifier`).

    Parameters
    ----------
    predictions : ndarray of shape (k, n_test)
        The model's predictions on the held-out rows.
    single_output : bool
        Whether ``y`` was 1-D.
    """

    def __init__(self, predictions, single_output):
        self.predictions = predictions
        self.single_output = single_output

    def predict(self, X):
        """Predictions of the rows ``X[:, 0]``."""
        z = self.predictions[:, np.asarray(X)[:, 0]]
        return z[0] if self.single_output else z.T


def fold_scores(scorer, stand_in, real_model, X, y, folds, logits, grid_folds, score_params):
    """The score of every model on its fold's held-out rows.

    Parameters
    ----------
    scorer : callable
        ``scorer(estimator, X, y, **params)``.
    stand_in : callable
        ``logits -> estimator`` answering from held-out logits
        (:class:`HeldOutClassifier`, :class:`HeldOutRegressor`).
    real_model : callable
        ``model index -> fitted estimator``, for scorers that are plain
        callables (they may read ``X`` itself).
    X, y : data and targets (numpy ``y``).
    folds : list of (train, test)
    logits : list of ndarray
        From :func:`held_out_logits`.
    grid_folds : ndarray of int
        The fold of each model.
    score_params : dict
        Metadata for the scorer, indexed by the test rows of each fold.

    Returns
    -------
    scores : ndarray of shape (M,)
    """
    scores = np.empty(len(logits))
    by_scorer = isinstance(scorer, _BaseScorer)
    for fold, (_, test) in enumerate(folds):
        params = _check_method_params(X, params=score_params, indices=test)
        params = {key: to_numpy(value) if hasattr(value, "shape") else value
                  for key, value in params.items()}
        y_test = y[test]
        X_test = np.arange(test.shape[0])[:, None] if by_scorer else _safe_indexing(X, test)
        for index in np.flatnonzero(grid_folds == fold):
            model = stand_in(logits[index]) if by_scorer else real_model(index)
            scores[index] = scorer(model, X_test, y_test, **params)
    return scores


def progress_log(estimator, verbose, X, y, metadata, n_subtasks):
    """A :class:`BatchedLog` that also feeds the callbacks set with ``set_callbacks``.

    One callback task per shared iteration, whatever the number of models.
    Returns the log and a function that closes the callbacks' tasks.
    """
    context = estimator._init_callback_context(max_subtasks=n_subtasks)
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    observer = None
    if getattr(estimator, "_skl_callbacks", None):

        def observer():
            child = context.subcontext(task_name="iteration")
            child.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
            child.call_on_fit_task_end(estimator=estimator, X=X, y=y, metadata=metadata)

    log = BatchedLog(verbose, name=f"{type(estimator).__name__}/bb", observer=observer)

    def close():
        context.call_on_fit_task_end(
            estimator=estimator, X=X, y=y, metadata=metadata, reconstruction_attributes={}
        )

    return log, close


def set_fitted_arrays(estimator, X, float_names=(), **arrays):
    """Store fitted arrays in ``X``'s namespace and on its device.

    scikit-learn's array-API convention: every fitted array lives where
    ``X`` does (numpy for dask arrays); those named in ``float_names`` take
    ``X``'s floating dtype.
    """
    if is_dask_collection(X):
        like, dtype = np.empty(0), np.dtype(X.dtype)
    else:
        like, dtype = X, numpy_float_dtype(X)
    for name, value in arrays.items():
        value = np.asarray(value)
        if name in float_names:
            value = value.astype(dtype)
        setattr(estimator, name, from_numpy(value, like=like))


def warn_unconverged(estimator, converged, stalled, relative_gap, certified, tol):
    """One ConvergenceWarning for all the models that did not converge."""
    missed = ~converged
    if not missed.any():
        return
    reason = ("stalled at the working precision" if stalled[missed].all()
              else f"reached max_iter={estimator.max_iter}")
    worst = int(np.flatnonzero(missed)[np.argmax(relative_gap[missed])])
    kind = "certified" if certified[worst] else "predicted"
    warnings.warn(
        f"{type(estimator).__name__}: {int(missed.sum())} of {missed.size} "
        f"cross-validation models {reason}; the largest {kind} relative objective "
        f"gap is {float(relative_gap[worst]):.3g} > tol={tol:g}. "
        f"{estimator._convergence_advice()}",
        ConvergenceWarning,
        stacklevel=4,
    )
