"""partial_fit: the documented semantics, checked against independent references.

What the docstrings of ``GDLinearRegression.partial_fit`` and
``GDLogisticRegression.partial_fit`` promise, and how each promise is checked:

* call ``t`` takes one proximal gradient step of size ``base / sqrt(t)`` on its
  batch's objective from the current coefficients; ``n_iter_`` counts the steps
  and ``loss_curve_`` holds each batch's objective *before* its step. With
  ``precondition="none"`` and a float ``learning_rate`` (then ``base`` is that
  float) this is reproduced step by step with numpy, written here from the
  docstring: same coefficients, same ``loss_curve_`` to rounding.
* the classifier's penalty is that of a data set of the total sample weight
  seen so far, i.e. the mean-form strength ``1 / (C * W_t)`` where ``W_t`` is
  the cumulative weight including the current batch (after ``E`` passes over
  the same data: ``fit`` with ``C * E``). The numpy reference uses exactly this
  strength, so a wrong one changes the reference's ``loss_curve_``.
* ``partial_fit`` after ``fit`` continues from the fitted coefficients: one
  step on the whole data set from an optimum (whose gradient is zero, penalty
  of one pass = ``fit``'s penalty) leaves them where they are; the first
  ``loss_curve_`` entry is the independent objective at the fitted point.
* ``fit`` after ``partial_fit`` starts afresh: identical to a fresh ``fit``.
* the classifier needs ``classes`` on the first call, rejects labels outside
  ``classes`` and a change of ``classes``; both reject a change of
  ``n_features``.
* streaming epochs over :func:`sklearn.utils.gen_batches` converges towards the
  full fit (measured numbers and thresholds in the tests).
"""


import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import Ridge
from sklearn.utils import gen_batches

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import (
    elastic_net_penalty,
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
    relative_gap,
)

# Agreement of two float64 computations of the same few hundred steps (the
# library's and the numpy reference's differ only in summation order).
REPLICATION_RTOL = 1e-10


# ---------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------


def soft_threshold(values, threshold):
    return np.sign(values) * np.maximum(np.abs(values) - threshold, 0.0)


def linear_stream_reference(batches, *, alpha, l1_ratio, learning_rate):
    """Proximal gradient steps of size ``learning_rate / sqrt(t)``, plain coordinates.

    ``batches`` is a list of ``(X, y, s)``. Starts from ``w = 0`` and ``b`` the
    weighted mean of the first batch's targets (the best intercept for
    ``w = 0``). Returns ``(w, b, curve)``, ``curve`` holding each batch's
    objective ``1/(2 S_b) sum s_i r_i^2 + alpha P(w)`` before its step.
    """
    X0, y0, s0 = batches[0]
    w = np.zeros(X0.shape[1])
    b = float(np.sum(s0 * y0) / np.sum(s0))
    curve = []
    for t, (X, y, s) in enumerate(batches, start=1):
        S = np.sum(s)
        residual = X @ w + b - y
        curve.append(least_squares_objective(X, y, w, b, alpha=alpha, l1_ratio=l1_ratio,
                                             sample_weight=s))
        grad_w = X.T @ (s * residual) / S + alpha * (1 - l1_ratio) * w
        grad_b = np.sum(s * residual) / S
        step = learning_rate / np.sqrt(t)
        w = soft_threshold(w - step * grad_w, step * alpha * l1_ratio)
        b = b - step * grad_b
    return w, b, np.array(curve)


def logistic_stream_reference(batches, classes, *, C, l1_ratio, learning_rate):
    """The classifier's documented streaming steps, in plain coordinates.

    The penalty of call ``t`` has mean-form strength ``1 / (C W_t)``, ``W_t`` the
    total weight of batches 1..t. Binary problems use one sigmoid row, more
    classes the softmax with one row per class. Starts from ``W = 0`` and the
    intercept of the first batch's weighted class shares (log-odds; centred
    log-shares for the softmax). Returns ``(W, b, curve)``.
    """
    n_classes = len(classes)
    n_rows = 1 if n_classes == 2 else n_classes
    X0, y0, s0 = batches[0]
    W = np.zeros((n_rows, X0.shape[1]))
    shares = np.array([np.sum(s0[y0 == c]) for c in classes]) / np.sum(s0)
    if n_classes == 2:
        b = np.array([np.log(shares[1] / shares[0])])
    else:
        b = np.log(shares) - np.mean(np.log(shares))
    total_weight = 0.0
    curve = []
    for t, (X, y, s) in enumerate(batches, start=1):
        S = np.sum(s)
        total_weight += S
        strength = 1.0 / (C * total_weight)
        # The batch's mean log-loss and its gradient (unpenalised: C=inf),
        # then the penalty of strength 1 / (C W_t).
        loss, grad_W, grad_b = log_loss_objective_and_gradient(
            X, y, W, b, C=np.inf, sample_weight=s, classes=classes)
        curve.append(loss + strength * elastic_net_penalty(W, l1_ratio))
        grad_W = grad_W + strength * (1 - l1_ratio) * W
        step = learning_rate / np.sqrt(t)
        W = soft_threshold(W - step * grad_W, step * strength * l1_ratio)
        b = b - step * grad_b
    return W, b, np.array(curve)


def make_regression_stream(seed, n_samples=120, n_features=4, n_batches=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * [1.0, 3.0, 0.5, 2.0][:n_features]
    X += rng.normal(0, 2, n_features)
    y = X @ rng.standard_normal(n_features) + 1.5 + 0.3 * rng.standard_normal(n_samples)
    s = rng.uniform(0.2, 2.0, n_samples)
    splits = np.array_split(np.arange(n_samples), n_batches)
    return X, y, s, splits


def make_classification_stream(seed, n_classes, n_samples=150, n_features=3,
                               n_batches=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    logits = X @ rng.standard_normal((n_features, n_classes))
    labels = np.array([-7, 2, 11, 30][:n_classes])  # non-contiguous labels
    y = labels[np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)]
    s = rng.uniform(0.2, 2.0, n_samples)
    splits = np.array_split(np.arange(n_samples), n_batches)
    return X, y, s, labels, splits


# ---------------------------------------------------------------------------
# Step-by-step semantics against the numpy reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_linear_steps_match_reference(l1_ratio, weighted):
    X, y, s, splits = make_regression_stream(0)
    learning_rate, alpha, n_epochs = 0.05, 0.1, 3
    s = s if weighted else np.ones_like(y)
    batches = [(X[i], y[i], s[i]) for _ in range(n_epochs) for i in splits]
    est = GDLinearRegression(alpha=alpha, l1_ratio=l1_ratio, precondition="none",
                             learning_rate=learning_rate)
    for t, (Xb, yb, sb) in enumerate(batches, start=1):
        est.partial_fit(Xb, yb, sample_weight=sb if weighted else None)
        # n_iter_ counts calls; loss_curve_ grows by one per call.
        assert est.n_iter_ == t
        assert len(est.loss_curve_) == t
    w, b, curve = linear_stream_reference(batches, alpha=alpha, l1_ratio=l1_ratio,
                                          learning_rate=learning_rate)
    np.testing.assert_allclose(est.loss_curve_, curve, rtol=REPLICATION_RTOL)
    np.testing.assert_allclose(est.coef_, w, rtol=REPLICATION_RTOL,
                               atol=REPLICATION_RTOL * np.max(np.abs(w)))
    np.testing.assert_allclose(est.intercept_, b, rtol=REPLICATION_RTOL)
    if l1_ratio > 0:
        # The prox gives exact zeros exactly where the reference does.
        np.testing.assert_array_equal(est.coef_ == 0.0, w == 0.0)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_logistic_steps_match_reference(n_classes, l1_ratio):
    X, y, s, classes, splits = make_classification_stream(1, n_classes)
    # C small enough that the penalty is a visible part of each step: a wrong
    # penalty strength (e.g. 1/(C S_batch) or 1/(C S_total)) changes the result
    # far beyond REPLICATION_RTOL.
    learning_rate, C, n_epochs = 0.5, 0.02, 3
    batches = [(X[i], y[i], s[i]) for _ in range(n_epochs) for i in splits]
    est = GDLogisticRegression(C=C, l1_ratio=l1_ratio, precondition="none",
                               learning_rate=learning_rate)
    for t, (Xb, yb, sb) in enumerate(batches, start=1):
        est.partial_fit(Xb, yb, sample_weight=sb, classes=classes if t == 1 else None)
        # An array of shape (1,), as LogisticRegression's n_iter_.
        assert est.n_iter_.shape == (1,) and est.n_iter_[0] == t
        assert len(est.loss_curve_) == t
    np.testing.assert_array_equal(est.classes_, classes)
    W, b, curve = logistic_stream_reference(batches, classes, C=C, l1_ratio=l1_ratio,
                                            learning_rate=learning_rate)
    np.testing.assert_allclose(est.loss_curve_, curve, rtol=REPLICATION_RTOL)
    np.testing.assert_allclose(est.coef_, W, rtol=REPLICATION_RTOL,
                               atol=REPLICATION_RTOL * np.max(np.abs(W)))
    np.testing.assert_allclose(est.intercept_, b, rtol=REPLICATION_RTOL,
                               atol=REPLICATION_RTOL * np.max(np.abs(b)))


@pytest.mark.parametrize("estimator", [GDLinearRegression(alpha=0.1),
                                       GDLogisticRegression(C=0.5)],
                         ids=lambda e: type(e).__name__)
def test_loss_curve_is_batch_objective_before_the_step(estimator):
    """With the default preconditioning too: entry t is the batch objective at
    the coefficients left by call t - 1 (checked with an independent objective).
    """
    if isinstance(estimator, GDLinearRegression):
        X, y, _, splits = make_regression_stream(2)
        objective = lambda i, est: least_squares_objective(  # noqa: E731
            X[i], y[i], est.coef_, est.intercept_, alpha=estimator.alpha)
        extra = {}
    else:
        X, y, _, classes, splits = make_classification_stream(2, 3)
        seen = {"weight": 0.0}

        def objective(i, est):
            # Penalty of the total weight seen so far, current batch included.
            total = seen["weight"] + len(i)
            return log_loss_objective(X[i], y[i], est.coef_, est.intercept_,
                                      C=estimator.C * total / len(i), classes=classes)
        extra = {"classes": classes}
    estimator.partial_fit(X[splits[0]], y[splits[0]], **extra)
    if not isinstance(estimator, GDLinearRegression):
        seen["weight"] += len(splits[0])
    for t, i in enumerate(splits[1:], start=2):
        expected = objective(i, estimator)
        estimator.partial_fit(X[i], y[i])
        if not isinstance(estimator, GDLinearRegression):
            seen["weight"] += len(i)
        assert estimator.n_iter_ == t
        assert len(estimator.loss_curve_) == t
        np.testing.assert_allclose(estimator.loss_curve_[-1], expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_classifier_requires_classes_on_first_call():
    X, y, _, classes, splits = make_classification_stream(3, 2)
    est = GDLogisticRegression()
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coef_")
    est.partial_fit(X, y, classes=classes)  # then it works
    est.partial_fit(X, y)  # and later calls need no classes


def test_classifier_rejects_labels_not_in_classes():
    X, y, _, classes, _ = make_classification_stream(4, 3)
    est = GDLogisticRegression()
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X, y, classes=classes[:2])
    est = GDLogisticRegression().partial_fit(X, y, classes=classes)
    coef = est.coef_.copy()
    y_bad = y.copy()
    y_bad[0] = 99
    with pytest.raises(ValueError, match="99"):
        est.partial_fit(X, y_bad)
    # A rejected batch takes no step.
    np.testing.assert_array_equal(est.coef_, coef)
    assert est.n_iter_ == 1


def test_rejected_first_call_leaves_no_state():
    """A first call refused for its labels is not an "earlier call": retrying
    with the right ``classes`` must work, and without ``classes`` must still
    ask for them."""
    X, y, _, classes, _ = make_classification_stream(4, 3)
    est = GDLogisticRegression()
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X, y, classes=classes[:2])
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    est.partial_fit(X, y, classes=classes)
    np.testing.assert_array_equal(est.classes_, classes)
    assert est.n_iter_ == 1


def test_classifier_rejects_changed_classes():
    X, y, _, classes, _ = make_classification_stream(5, 3)
    est = GDLogisticRegression().partial_fit(X, y, classes=classes)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y, classes=np.append(classes, 100))
    # The same classes in another order are the same set: accepted.
    est.partial_fit(X, y, classes=classes[::-1])


@pytest.mark.parametrize("estimator", [GDLinearRegression(), GDLogisticRegression()],
                         ids=lambda e: type(e).__name__)
def test_rejects_change_of_n_features(estimator):
    X, y, _, classes, _ = make_classification_stream(6, 2, n_features=3)
    extra = {"classes": classes} if isinstance(estimator, GDLogisticRegression) else {}
    estimator.partial_fit(X, y, **extra)
    with pytest.raises(ValueError, match="features"):
        estimator.partial_fit(X[:, :2], y)
    with pytest.raises(ValueError, match="features"):
        estimator.partial_fit(np.hstack([X, X[:, :1]]), y)
    assert estimator.n_iter_ == 1


def test_classifier_first_batch_may_miss_classes():
    """``classes`` announces labels that only later batches contain."""
    X, y, s, classes, splits = make_classification_stream(7, 2)
    order = np.argsort(y, kind="stable")
    first, rest = order[:20], order[20:]
    assert np.all(y[first] == classes[0])
    est = GDLogisticRegression(precondition="none", learning_rate=0.5)
    est.partial_fit(X[first], y[first], classes=classes)
    est.partial_fit(X[rest], y[rest])
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    assert np.all(np.isfinite(est.loss_curve_))


# ---------------------------------------------------------------------------
# Interplay with fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [GDLinearRegression(alpha=0.1, tol=1e-12),
                                       GDLogisticRegression(C=1.0, tol=1e-12)],
                         ids=lambda e: type(e).__name__)
def test_partial_fit_after_fit_continues_from_fitted_coefficients(estimator):
    if isinstance(estimator, GDLinearRegression):
        X, y, _, _ = make_regression_stream(8)
        objective = lambda est: least_squares_objective(  # noqa: E731
            X, y, est.coef_, est.intercept_, alpha=estimator.alpha)
    else:
        X, y, _, classes, _ = make_classification_stream(8, 3)
        objective = lambda est: log_loss_objective(  # noqa: E731
            X, y, est.coef_, est.intercept_, C=estimator.C, classes=classes)
    estimator.fit(X, y)
    coef, intercept = estimator.coef_.copy(), np.copy(estimator.intercept_)
    fitted_objective = objective(estimator)
    # One step on the whole data set (one pass: the classifier's penalty is
    # fit's) from the minimiser: the gradient is zero there, nothing moves.
    estimator.partial_fit(X, y)
    assert estimator.n_iter_ == 1
    np.testing.assert_allclose(estimator.loss_curve_, [fitted_objective], rtol=1e-12)
    scale = np.max(np.abs(coef))
    np.testing.assert_allclose(estimator.coef_, coef, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(estimator.intercept_, intercept, rtol=1e-6,
                               atol=1e-6 * max(1.0, np.max(np.abs(intercept))))
    # Whereas a fresh stream starts from zero coefficients, far from there.
    fresh = type(estimator)(**estimator.get_params())
    extra = {"classes": classes} if isinstance(estimator, GDLogisticRegression) else {}
    fresh.partial_fit(X, y, **extra)
    assert np.max(np.abs(fresh.coef_ - coef)) > 1e-2 * scale


@pytest.mark.parametrize("estimator", [GDLinearRegression(alpha=0.1),
                                       GDLogisticRegression(C=1.0)],
                         ids=lambda e: type(e).__name__)
def test_fit_after_partial_fit_starts_afresh(estimator):
    if isinstance(estimator, GDLinearRegression):
        X, y, s, splits = make_regression_stream(9)
        extra = {}
    else:
        X, y, s, classes, splits = make_classification_stream(9, 3)
        extra = {"classes": classes}
    for i in splits:
        estimator.partial_fit(X[i], y[i], sample_weight=s[i], **extra)
        extra = {}
    estimator.fit(X, y)
    fresh = type(estimator)(**estimator.get_params()).fit(X, y)
    assert estimator.n_iter_ == fresh.n_iter_
    np.testing.assert_array_equal(estimator.loss_curve_, fresh.loss_curve_)
    np.testing.assert_array_equal(estimator.coef_, fresh.coef_)
    np.testing.assert_array_equal(estimator.intercept_, fresh.intercept_)
    # ... and a partial_fit after that fit continues from the new fit, with a
    # fresh step counter.
    estimator.partial_fit(X[splits[0]], y[splits[0]])
    assert estimator.n_iter_ == 1


# ---------------------------------------------------------------------------
# Streaming converges towards the full fit
# ---------------------------------------------------------------------------


def test_linear_stream_converges_to_full_fit():
    """GDLinearRegression(alpha=0.01) on load_diabetes, 20 batches via gen_batches.

    Relative objective gap ``(F(stream) - F*) / F*``, ``F*`` the objective of
    the full-data minimiser, solved directly by ``Ridge(alpha * n)``, measured
    (default preconditioning, 1/sqrt(t) decay): 3.25e-3 after 1 epoch,
    6.19e-4 after 10, 3.27e-4 after 50. Thresholds, about 1.5x above:
    5e-3, 1e-3, 5e-4; and the gap must decrease.
    """
    X, y = load_diabetes(return_X_y=True)
    alpha = 0.01
    full = Ridge(alpha=alpha * len(y), solver="cholesky").fit(X, y)
    best = least_squares_objective(X, y, full.coef_, full.intercept_, alpha=alpha)
    batches = list(gen_batches(len(y), int(np.ceil(len(y) / 20))))
    assert len(batches) == 20
    est = GDLinearRegression(alpha=alpha)
    gaps = {}
    for epoch in range(1, 51):
        for batch in batches:
            est.partial_fit(X[batch], y[batch])
        if epoch in (1, 10, 50):
            gaps[epoch] = relative_gap(
                least_squares_objective(X, y, est.coef_, est.intercept_, alpha=alpha), best)
    assert est.n_iter_ == 50 * 20
    assert len(est.loss_curve_) == 50 * 20
    assert all(gap >= -1e-12 for gap in gaps.values()), gaps  # F* is the minimum
    assert gaps[1] > gaps[10] > gaps[50], gaps
    assert gaps[1] < 5e-3, gaps
    assert gaps[10] < 1e-3, gaps
    assert gaps[50] < 5e-4, gaps


def test_logistic_stream_converges_to_full_fit():
    """GDLogisticRegression(C=1) on load_digits (10 classes), 20 batches.

    After E epochs over the same data the stream's penalty is that of fit
    with C * E; fit with C = 1, 10 and 50 all predict every training label
    correctly (measured), so the full fit's predictions are the target for
    every E. Measured fraction of predictions equal to the full fit's:
    0.895 after 1 epoch, 0.942 after 10, 0.960 after 50. Thresholds: it
    rises, and exceeds 0.85, 0.92 and 0.94.
    """
    X, y = load_digits(return_X_y=True)
    full = GDLogisticRegression(C=1.0, tol=1e-6, max_iter=10_000).fit(X, y)
    target = full.predict(X)
    assert np.mean(target == y) == 1.0  # as measured for C = 10 and 50 too
    batches = list(gen_batches(len(y), int(np.ceil(len(y) / 20))))
    assert len(batches) == 20
    est = GDLogisticRegression(C=1.0)
    agreement = {}
    for epoch in range(1, 51):
        for batch in batches:
            est.partial_fit(X[batch], y[batch], classes=np.arange(10))
        if epoch in (1, 10, 50):
            agreement[epoch] = float(np.mean(est.predict(X) == target))
    assert est.n_iter_ == 50 * 20
    assert agreement[1] < agreement[10] < agreement[50], agreement
    assert agreement[1] > 0.85, agreement
    assert agreement[10] > 0.92, agreement
    assert agreement[50] > 0.94, agreement
