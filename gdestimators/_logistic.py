"""GDLogisticRegression: binary and multinomial logistic regression by gradient descent."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._array_api import (
    from_numpy,
    is_dask_collection,
    namespace,
    numpy_float_dtype,
    to_float,
    to_numpy,
)
from ._base import (
    ACCEPTED_SPARSE,
    GDBase,
    float_dtypes,
    namespace_of_inputs,
    predict_method,
)
from ._losses import classification_loss, sigmoid, softmax
from ._problem import ObjectiveSettings


def _logit_output(estimator):
    """Columns and dtype of ``decision_function``: one column per logit row."""
    n_rows = estimator.coef_.shape[0]
    return (None if n_rows == 1 else n_rows), estimator.coef_.dtype


def _probability_output(estimator):
    """Columns and dtype of ``predict_proba``: one column per class."""
    return estimator.classes_.shape[0], estimator.coef_.dtype


def _label_output(estimator):
    """Columns and dtype of ``predict``: one label per sample."""
    return None, estimator.classes_.dtype


class GDLogisticRegression(ClassifierMixin, SparseCoefMixin, GDBase):
    """Logistic regression fitted by gradient descent.

    Has the same minimiser as scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` with the same ``C`` and
    ``l1_ratio``:

    .. math::

        \\min_{W, b} \\; C \\sum_i s_i \\, l_i(W x_i + b)
        + \\frac{1 - \\rho}{2} \\lVert W \\rVert_F^2 + \\rho \\lVert W \\rVert_1,

    where :math:`s_i` includes ``class_weight`` and :math:`l_i` is the note's
    cross-entropy: sigmoid with one coefficient row for two classes, softmax
    with one row per class for more. The solvers minimise the equivalent mean
    form (divided by :math:`C S`, :math:`S = \\sum_i s_i`), whose gradient is the
    note's :math:`\\frac{1}{m} X (a - y)^T`. The intercept is not penalised.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` means no penalty.
    l1_ratio : float, default=0.0
        Share of the L1 part of the penalty, in ``[0, 1]``; handled by a
        proximal (soft-thresholding) step, so exact zeros come out.
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercept.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``; "balanced" uses
        ``n_samples / (n_classes * weighted class count)``.
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
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for binary problems (for ``classes_[1]``). A
        scipy sparse matrix after :meth:`sparsify` (predictions work with
        either).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Iterations run (calls, after ``partial_fit``), as an int32
        array like scikit-learn's ``LogisticRegression``: one count for the
        single problem solved for all classes. In the namespace and on the
        device of ``X`` for array-API inputs.
    loss_curve_ : list of float of length n_iter_[0]
        Mean-form objective (penalty included) after each iteration: the
        formula above divided by ``C S``; after ``partial_fit``, each call's
        batch objective (see there).
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
    GDLinearRegression : Least squares by gradient descent.
    sklearn.linear_model.LogisticRegression : The same model by L-BFGS.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from gdestimators import GDLogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = GDLogisticRegression(C=1.0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> float(clf.score(X, y)) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **GDBase._parameter_constraints,
        "C": [Interval(Real, 0, None, closed="right")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        C=1.0,
        *,
        l1_ratio=0.0,
        fit_intercept=True,
        class_weight=None,
        solver="auto",
        learning_rate="auto",
        precondition="auto",
        max_iter=5000,
        tol=1e-12,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
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
        y : array-like of shape (n_samples,)
            Class labels (any type: strings, {-1, 1}, ...); a dask array is
            gathered (it is ``n_features`` times smaller than ``X``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight acts like repeating the
            sample, and a zero weight like removing it: weights (times
            ``class_weight``) that leave a single class raise the
            ``ValueError`` that data of a single class raise.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if is_dask_collection(X):
            X, y, sample_weight = self._validate_dask_input(X, y, sample_weight)
        else:
            xp, _, sample_weight = namespace_of_inputs(X, sample_weight)
            X, y = validate_data(
                self, X, y, accept_sparse=ACCEPTED_SPARSE, dtype=float_dtypes(xp)
            )
        xp = namespace(X)
        # Labels are handled on the host (they may be strings); the targets
        # built from them go to the data's device.
        y = to_numpy(y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]!r}."
            )
        sample_weight = self._class_weighted(sample_weight, X, y, y_index)
        class_weights = np.bincount(
            y_index, weights=np.asarray(to_numpy(sample_weight), dtype=np.float64),
            minlength=self.classes_.shape[0],
        )
        self._check_weighted_classes(class_weights)
        settings = self._objective_settings(
            X, y_index, to_float(xp.sum(sample_weight))
        )
        self._solve(X, y, sample_weight, settings)
        self._warn_about_weightless_classes(class_weights)
        if self.C == np.inf and self._separates(X, y_index, sample_weight):
            warnings.warn(
                "The classes are linearly separable in the training data and "
                "C=np.inf: no finite minimiser exists, so the coefficients only "
                "stop growing because of tol and max_iter, and their size is "
                "arbitrary. Use a finite C for a well-defined model.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_weighted_classes(self, class_weights):
        """Refuse weights that leave a single class, as scikit-learn refuses one class.

        A sample of zero weight counts as absent (scikit-learn's convention,
        which its ``check_sample_weight_equivalence`` checks), so weights that
        are zero on every class but one leave data of one class, which
        ``LogisticRegression`` refuses with this error. There is nothing to
        fit either: the intercept would decrease without bound (and, without
        intercept, the coefficients would only push every logit away from
        the other classes), so no iteration count could give an answer.
        """
        weighted = np.flatnonzero(class_weights > 0)
        if weighted.shape[0] == 1:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                "the samples with non-zero weight (sample_weight times class_weight) "
                f"contain only one class: {self.classes_[weighted[0]]!r}. A sample "
                "of zero weight counts as absent, and with one class the objective "
                "has no minimiser."
            )

    def _warn_about_weightless_classes(self, class_weights):
        """Say why a class of zero total weight got an arbitrary intercept.

        With two or more weighted classes the fit goes on (the weighted
        classes' model is well defined), but the intercept of a class without
        weight has no minimiser: it decreases until ``tol`` stops it.
        """
        weightless = self.classes_[class_weights == 0]
        if weightless.shape[0] == 0 or not self.fit_intercept or self.classes_.shape[0] < 3:
            return
        warnings.warn(
            f"The classes {weightless.tolist()!r} have zero total weight "
            "(sample_weight times class_weight): the objective has no finite "
            "minimiser along their intercepts, which only stop decreasing because "
            "of tol and max_iter; their probabilities are near zero and their "
            "intercepts arbitrary. Remove their samples, or give them weight.",
            ConvergenceWarning,
            stacklevel=3,
        )

    def _separates(self, X, y_index, sample_weight):
        """Whether the fitted model classifies every weighted sample correctly.

        Without penalty that is the sign that the classes are separable: the
        loss can then be driven to zero only by coefficients growing without
        bound.
        """
        if is_dask_collection(X):
            predicted = to_numpy(self._map_over_chunks(
                lambda chunk: self._predicted_index(self._logits(chunk)), X,
                None, np.int64,
            ))
        else:
            # X is validated already: validating it again would warn about
            # feature names when fit received a DataFrame.
            predicted = to_numpy(self._predicted_index(self._logits(X)))
        weighted = to_numpy(sample_weight) > 0
        return bool(np.all(predicted[weighted] == y_index[weighted]))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Fit on one batch of a stream: the coefficients approach ``fit``'s on the stream.

        The first call needs ``classes``, all the labels the stream will
        contain.

        **What is minimised.** The stream's data set is the set of distinct
        batches passed so far. A batch passed again (identical ``X``, ``y``
        and ``sample_weight``, recognised by a digest of their bytes) is a
        further pass over data already counted, not new data. ``partial_fit``
        minimises the objective that :meth:`fit` minimises on the
        concatenation of the distinct batches, with the same ``C`` and
        ``l1_ratio``, and its coefficients approach ``fit``'s on that data as
        passes accumulate. In the mean form the penalty is divided by ``C S``,
        ``S`` the data set's total weight: it does not change when batches are
        passed again. Batches whose contents differ are new data, as they
        would be for ``fit``: a data set reshuffled into new batches before
        each pass counts once per pass, which is ``fit`` with ``C`` times the
        number of passes; keep the batches (shuffle once, before splitting) to
        stream ``fit(C)``. With ``class_weight="balanced"`` each batch is
        balanced on its own labels, so the objective is ``fit``'s only when
        the batches have the classes in the same proportions; pass a dict
        computed on the whole stream instead.

        **How.** Each batch not seen before is absorbed at once: its exact
        loss plus a quadratic model of the other batches (and the penalty) is
        minimised by a few Newton iterations on the batch alone, then the
        batch's own quadratic model joins the others. Later passes alternate
        between a pass that evaluates every batch at the same coefficients
        (they do not change during it) and a pass that absorbs each batch
        again in place of its model there: an incremental Newton method,
        which converges in a few passes whatever the order of the batches
        within a pass. A batch passed twice within a pass counts once. The
        memory kept is three matrices of the size of the Hessian of the
        coefficients (``((n_features + 1) k)**2`` numbers each, ``k`` the rows
        of ``coef_``) and a digest and a weight per distinct batch, nothing
        per sample.

        Where the Hessian would have more than 2048 coordinates, or with
        ``solver`` "gd", "nesterov" or "bb", each call instead takes one
        proximal gradient step on its batch's objective, of size
        ``learning_rate`` (or ``1/L`` of the first batch's curvature bound)
        times the batch's weight over the mean weight of the data set's
        batches, divided by ``sqrt(t)`` at call ``t``: it converges to the
        same minimiser, much more slowly.

        ``n_iter_`` counts the calls, and ``loss_curve_`` holds each batch's
        objective in the mean form (its weighted mean loss plus the data
        set's penalty) at the coefficients before its call. The first call
        starts from the coefficients of a previous ``fit``, if any; ``fit``
        starts a new stream.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data; the number of features must not change.
        y : array-like of shape (n_samples,)
            Labels of the batch, all in ``classes``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch.
        classes : array-like of shape (n_classes,), default=None
            All class labels; required on the first call (unless the
            estimator was fitted), and must not change later.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "classes_")
        if first_call:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            all_classes = np.unique(np.asarray(classes))
            if all_classes.shape[0] < 2:
                raise ValueError("partial_fit needs at least 2 classes in `classes`.")
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(
                all_classes, np.unique(np.asarray(classes))
            ):
                raise ValueError(
                    f"classes={np.asarray(classes).tolist()!r} differs from the "
                    f"classes_ of the earlier calls, {all_classes.tolist()!r}."
                )
        xp, _, sample_weight = namespace_of_inputs(X, sample_weight)
        X, y = validate_data(
            self, X, y, accept_sparse=ACCEPTED_SPARSE, dtype=float_dtypes(xp),
            reset=first_call,
        )
        y = to_numpy(y)
        check_classification_targets(y)
        unknown = np.setdiff1d(y, all_classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{all_classes.tolist()}."
            )
        # Set only once the batch is accepted, so a refused first call
        # leaves the estimator as it was.
        self.classes_ = all_classes
        y_index = np.searchsorted(self.classes_, y)
        sample_weight = self._class_weighted(sample_weight, X, y, y_index)
        # The penalty is fit's on the data set: 1 / (C S) with S its weight.
        self._partial_fit_step(
            X, y, y_index, sample_weight,
            lambda data_weight: self._objective_settings(X, y_index, data_weight),
        )
        return self

    def _class_weighted(self, sample_weight, X, y, y_index):
        """Sample weights times class weights, checked to leave some weight."""
        sample_weight = self._validate_sample_weight(sample_weight, X)
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y,
                sample_weight=to_numpy(sample_weight),
            )
            per_sample = per_class[y_index].astype(numpy_float_dtype(sample_weight))
            sample_weight = sample_weight * from_numpy(per_sample, like=sample_weight)
        if not to_float(namespace(sample_weight).sum(sample_weight)) > 0:
            raise ValueError(
                "The sample weights times class weights sum to zero: no sample "
                "is left to fit."
            )
        return sample_weight

    def _objective_settings(self, X, y_index, total_weight):
        """The objective to minimise: :class:`._problem.ObjectiveSettings`.

        The loss is the sigmoid cross-entropy for two classes and the
        softmax one for more; its targets are built on the host from the
        class indices, then moved to ``X``'s namespace, device and dtype.
        The penalty is scikit-learn's divided by ``C * total_weight``.
        """
        loss = classification_loss(self.classes_.shape[0])
        targets = from_numpy(loss.encode_targets(y_index, numpy_float_dtype(X)), like=X)
        penalty_strength = 1.0 / (self.C * total_weight)
        return ObjectiveSettings(
            loss, targets,
            l2_strength=penalty_strength * (1.0 - self.l1_ratio),
            l1_strength=penalty_strength * self.l1_ratio,
        )

    def _coefficient_attributes(self, w, b, target_ndim):
        """``coef_`` (one row per logit) and ``intercept_``."""
        intercept = b if self.fit_intercept else namespace(b).zeros_like(b)
        return {"coef_": w.T, "intercept_": intercept}

    @predict_method(_logit_output)
    def decision_function(self, X):
        """Compute the logits ``z = w^T x + b``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, positive means ``classes_[1]``.
        """
        z = self._decision_rows(X)
        return z[0, ...] if z.shape[0] == 1 else z.T

    @predict_method(_probability_output)
    def predict_proba(self, X):
        """Estimate class probabilities: sigmoid (two classes) or softmax.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._probabilities(X)

    def _probabilities(self, X):
        z = self._decision_rows(X)
        if z.shape[0] == 1:
            positive = sigmoid(z[0, ...])
            return namespace(z).stack([1.0 - positive, positive], axis=1)
        return softmax(z).T

    @predict_method(_probability_output)
    def predict_log_proba(self, X):
        """Compute the logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        # log of the probabilities themselves (not a log-softmax) so that
        # ties and their order agree exactly with predict_proba.
        probabilities = self._probabilities(X)
        with np.errstate(divide="ignore"):
            return namespace(probabilities).log(probabilities)

    @predict_method(_label_output)
    def predict(self, X):
        """Predict the most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples; for a dask array the result is a lazy dask array.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted labels from ``classes_``.
        """
        z = self._decision_rows(X)
        xp = namespace(z)
        index = self._predicted_index(z)
        if self.classes_.dtype.kind in "biuf":
            # Numeric labels stay in the data's namespace and on its device.
            return xp.take(from_numpy(self.classes_, like=z), index, axis=0)
        return self.classes_[to_numpy(index)]

    def _n_iter_attribute(self, n_iter, X):
        """``n_iter_`` as scikit-learn's classifiers give it: int32, shape ``(1,)``.

        In the namespace and on the device of ``X`` (numpy for sparse and
        dask data), as ``LogisticRegression`` does with array-API inputs.
        """
        return from_numpy(np.asarray([n_iter], dtype=np.int32), like=X)

    @staticmethod
    def _predicted_index(z):
        """Index into ``classes_`` of the largest logit (sign for two classes)."""
        xp = namespace(z)
        if z.shape[0] == 1:
            return xp.astype(z[0, ...] > 0, xp.int64)
        return xp.argmax(z, axis=0)
