"""partial_fit: the documented semantics, checked against independent references.

What the docstrings of ``GDLinearRegression.partial_fit`` and
``GDLogisticRegression.partial_fit`` promise, and how each promise is checked:

* the stream minimises ``fit``'s objective on its data set, the distinct
  batches passed so far, with the same ``alpha`` or ``C``: a batch passed
  again is not new data, so the penalty does not depend on the number of
  passes. ``loss_curve_`` holds each call's batch objective at the
  coefficients before the call; it is recomputed here with the independent
  objectives of :mod:`gdestimators._reference`, the classifier's with the
  penalty ``1 / (C S)`` of the data set's weight ``S``, which stays that of
  one pass however many passes follow;
* for least squares one pass gives ``fit``'s minimiser (the models are
  exact), checked against closed-form and scikit-learn solutions;
* passes over the same batches approach ``fit``'s minimiser of the
  concatenated distinct batches: the relative objective gap and the signs
  of the coefficients ``fit`` determines, on raw ``load_breast_cancer`` and
  ``load_digits`` (20 batches, measured numbers in the tests), against
  scikit-learn's ``LogisticRegression`` where it solves the same problem;
* the first-order stream (``solver="gd"``) takes the documented step, checked
  step by step against a numpy reference, with the same data-set penalty;
* the classifier needs ``classes`` on the first call, rejects labels outside
  ``classes`` and a change of ``classes``; both reject a change of
  ``n_features``; ``partial_fit`` after ``fit`` continues from the fitted
  coefficients and ``fit`` after ``partial_fit`` starts afresh.
"""


import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.linear_model import ElasticNet, LogisticRegression
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


def data_set_weights(batches):
    """``(S_D, n_D)`` of the data set after each call: distinct batches only."""
    seen, totals = {}, []
    for X, y, s in batches:
        seen.setdefault((X.tobytes(), y.tobytes(), s.tobytes()), float(np.sum(s)))
        totals.append((sum(seen.values()), len(seen)))
    return totals


def linear_first_order_reference(batches, *, alpha, l1_ratio, learning_rate):
    """The documented first-order stream in plain coordinates (``precondition="none"``).

    Call ``t`` takes a proximal gradient step of size ``learning_rate * share
    / sqrt(t)`` on its batch's objective ``1/(2 S_b) sum s_i r_i^2 + alpha P(w)``,
    ``share`` the batch's weight over the mean weight of the data set's
    distinct batches. Starts from ``w = 0`` and ``b`` the weighted mean of the
    first batch's targets. Returns ``(w, b, curve)``, ``curve`` holding each
    batch's objective before its step.
    """
    X0, y0, s0 = batches[0]
    w = np.zeros(X0.shape[1])
    b = float(np.sum(s0 * y0) / np.sum(s0))
    curve = []
    for t, ((X, y, s), (total, count)) in enumerate(
            zip(batches, data_set_weights(batches), strict=True), start=1):
        S = np.sum(s)
        residual = X @ w + b - y
        curve.append(least_squares_objective(X, y, w, b, alpha=alpha, l1_ratio=l1_ratio,
                                             sample_weight=s))
        grad_w = X.T @ (s * residual) / S + alpha * (1 - l1_ratio) * w
        grad_b = np.sum(s * residual) / S
        step = learning_rate * (S / (total / count)) / np.sqrt(t)
        w = soft_threshold(w - step * grad_w, step * alpha * l1_ratio)
        b = b - step * grad_b
    return w, b, np.array(curve)


def logistic_first_order_reference(batches, classes, *, C, l1_ratio, learning_rate):
    """The classifier's documented first-order stream, in plain coordinates.

    The penalty of call ``t`` has mean-form strength ``1 / (C S_D)``, ``S_D``
    the total weight of the distinct batches seen so far (this one included):
    after one pass it no longer changes. Binary problems use one sigmoid row,
    more classes the softmax with one row per class. Starts from ``W = 0``
    and the intercept of the first batch's weighted class shares.
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
    curve = []
    for t, ((X, y, s), (total, count)) in enumerate(
            zip(batches, data_set_weights(batches), strict=True), start=1):
        S = np.sum(s)
        strength = 1.0 / (C * total)
        loss, grad_W, grad_b = log_loss_objective_and_gradient(
            X, y, W, b, C=np.inf, sample_weight=s, classes=classes)
        curve.append(loss + strength * elastic_net_penalty(W, l1_ratio))
        grad_W = grad_W + strength * (1 - l1_ratio) * W
        step = learning_rate * (S / (total / count)) / np.sqrt(t)
        W = soft_threshold(W - step * grad_W, step * strength * l1_ratio)
        b = b - step * grad_b
    return W, b, np.array(curve)


def make_regression_stream(seed, n_samples=120, n_features=4, n_batches=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * [1.0, 3.0, 0.5, 2.0][:n_features]
    X += rng.normal(0, 2, n_features)
    y = X @ rng.standard_normal(n_features) + 1.5 + 0.3 * rng.standard_normal(n_samples)
    s = rng.uniform(0.2, 2.0, n_samples)
    # Batches of unequal size: a share per batch must weigh their samples alike.
    splits = np.array_split(np.arange(n_samples), np.cumsum([10, 30, 15, 25, 20])[:n_batches - 1])
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


def streamed(estimator, batches, n_passes, **first_call):
    """``estimator`` after ``n_passes`` passes over ``batches`` (``(X, y, s)``)."""
    for _ in range(n_passes):
        for X, y, s in batches:
            estimator.partial_fit(X, y, sample_weight=s, **first_call)
            first_call = {}
    return estimator


def coefficient_signs_agree(coef, reference, certain):
    """Whether ``coef`` has ``reference``'s sign wherever ``certain`` (a mask)."""
    return np.array_equal(np.sign(np.asarray(coef)[certain]), np.sign(reference[certain]))


# ---------------------------------------------------------------------------
# The objective: fit's on the distinct batches, whatever the number of passes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["auto", "gd"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_penalty_is_that_of_the_data_set_in_every_pass(solver, n_classes):
    """loss_curve_[t] is batch t's mean-form objective at the coefficients
    before call t, with the penalty ``1 / (C S)`` of the data set's weight S:
    recomputed independently, for three passes over the same batches (the
    old behaviour, ``1 / (C * t-th cumulative weight)``, grows C with each
    pass and fails from the second pass on)."""
    X, y, s, classes, splits = make_classification_stream(10, n_classes)
    C = 0.05  # small enough that the penalty is a visible part of each value
    est = GDLogisticRegression(C=C, solver=solver)
    total = float(np.sum(s))
    for n_pass in range(3):
        for t, i in enumerate(splits):
            before = (est.coef_.copy(), est.intercept_.copy()) if hasattr(est, "coef_") else None
            est.partial_fit(X[i], y[i], sample_weight=s[i],
                            classes=classes if n_pass == t == 0 else None)
            seen = total if n_pass else float(np.sum(s[np.concatenate(splits[:t + 1])]))
            if before is None:
                continue
            # log_loss_objective divides the penalty by C S_b: C S / S_b gives 1/(C S).
            expected = log_loss_objective(X[i], y[i], *before, C=C * seen / np.sum(s[i]),
                                          sample_weight=s[i], classes=classes)
            np.testing.assert_allclose(est.loss_curve_[-1], expected, rtol=1e-10)


def test_passing_a_batch_again_is_not_new_data():
    """One batch passed six times is the data set of that batch: fit(C) on
    it, not fit(6 C). Checked against scikit-learn's LogisticRegression on
    the batch (the same minimiser), which for 6 C is far away."""
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]

    def reference(C):
        return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                                  max_iter=1000).fit(X, y)

    best = reference(0.5)
    est = GDLogisticRegression(C=0.5)
    for _ in range(6):
        est.partial_fit(X, y, classes=[0, 1])
    ours = log_loss_objective(X, y, est.coef_, est.intercept_, C=0.5)
    gap = relative_gap(ours, log_loss_objective(X, y, best.coef_, best.intercept_, C=0.5))
    assert -1e-12 < gap < 1e-9, gap
    scale = np.max(np.abs(best.coef_))
    np.testing.assert_allclose(est.coef_, best.coef_, atol=1e-5 * scale)
    assert np.max(np.abs(est.coef_ - reference(3.0).coef_)) > 1e-2 * scale
    # The penalty in loss_curve_ stays that of the one batch.
    np.testing.assert_allclose(est.loss_curve_[-1], ours, rtol=1e-9)


def test_streaming_distinct_batches_is_fit_on_their_concatenation():
    """Batches A, B, A, B, ... : the data set is A + B (each once)."""
    X, y, s, classes, splits = make_classification_stream(11, 3, n_batches=2)
    est = streamed(GDLogisticRegression(C=0.3),
                   [(X[i], y[i], s[i]) for i in splits], 8, classes=classes)
    reference = LogisticRegression(C=0.3, solver="newton-cholesky", tol=1e-12,
                                   max_iter=1000).fit(
        X, y, sample_weight=s)
    best = log_loss_objective(X, y, reference.coef_, reference.intercept_, C=0.3,
                              sample_weight=s)
    ours = log_loss_objective(X, y, est.coef_, est.intercept_, C=0.3, sample_weight=s)
    assert abs(relative_gap(ours, best)) < 1e-9
    np.testing.assert_allclose(est.coef_, reference.coef_, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Least squares: one pass is fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_one_pass_of_least_squares_is_the_ridge_solution(weighted, n_targets):
    """The ridge minimiser of the mean-form objective solves
    ``(X_c^T S X_c / S_tot + alpha I) w = X_c^T S y_c / S_tot`` (weighted
    centring): solved with numpy, it is the stream's after one pass over
    batches of unequal sizes, and stays it over further passes."""
    X, y, s, splits = make_regression_stream(0)
    if n_targets == 2:
        y = np.column_stack([y, 3.0 - 2.0 * y + X[:, 0]])
    s = s if weighted else np.ones_like(s)
    alpha = 0.3
    mean_x = s @ X / s.sum()
    mean_y = s @ y / s.sum()
    Xc, yc = X - mean_x, y - mean_y
    w = np.linalg.solve(Xc.T @ (s[:, None] * Xc) / s.sum() + alpha * np.eye(X.shape[1]),
                        Xc.T @ (s[:, None] * np.reshape(yc, (len(y), -1))) / s.sum())
    coef, intercept = w.T.reshape(np.shape(y)[1:] + (X.shape[1],)), mean_y - mean_x @ w
    est = GDLinearRegression(alpha=alpha)
    batches = [(X[i], y[i], s[i]) for i in splits]
    for _ in range(3):
        streamed(est, batches, 1)
        np.testing.assert_allclose(est.coef_, coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(est.intercept_, np.ravel(intercept).reshape(
            np.shape(est.intercept_)), rtol=1e-10)
    assert est.n_iter_ == len(est.loss_curve_) == 3 * len(splits)


def test_one_pass_of_the_elastic_net_is_its_minimiser():
    """With an L1 part: scikit-learn's ElasticNet (coordinate descent, tight
    tol) minimises the same mean-form objective."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    reference = ElasticNet(alpha=0.5, l1_ratio=0.7, tol=1e-14, max_iter=1_000_000).fit(X, y)
    best = least_squares_objective(X, y, reference.coef_, reference.intercept_, alpha=0.5,
                                   l1_ratio=0.7)
    batches = [(X[i], y[i], np.ones(len(y[i]))) for i in gen_batches(len(y), 23)]
    est = streamed(GDLinearRegression(alpha=0.5, l1_ratio=0.7), batches, 1)
    ours = least_squares_objective(X, y, est.coef_, est.intercept_, alpha=0.5, l1_ratio=0.7)
    assert relative_gap(ours, best) < 1e-12
    # The zeros of the lasso part are exact, and where the reference has them.
    np.testing.assert_array_equal(est.coef_ == 0.0, reference.coef_ == 0.0)


# ---------------------------------------------------------------------------
# Passes approach fit: raw breast cancer and digits, 20 batches per pass
# ---------------------------------------------------------------------------


def _relative_gaps_and_signs(X, y, passes, C=1.0):
    """The relative gap to fit and whether the signs agree, after each of ``passes``.

    ``fit`` (Newton, tol=1e-12) gives the minimiser; the coefficients whose
    sign it determines are those larger than its certified distance to the
    minimiser, ``sqrt(2 dual_gap_ / lambda)`` (``lambda = 1 / (C S)``, the
    strong convexity of the mean-form penalty).
    """
    full = GDLogisticRegression(C=C, solver="newton").fit(X, y)
    best = log_loss_objective(X, y, full.coef_, full.intercept_, C=C)
    certain = np.abs(full.coef_) > np.sqrt(2.0 * full.dual_gap_ * C * len(y))
    batches = list(gen_batches(len(y), int(np.ceil(len(y) / 20))))
    assert len(batches) == 20
    est = GDLogisticRegression(C=C)
    results = {}
    for n_pass in range(1, max(passes) + 1):
        for batch in batches:
            est.partial_fit(X[batch], y[batch], classes=np.unique(y))
        if n_pass in passes:
            gap = relative_gap(log_loss_objective(X, y, est.coef_, est.intercept_, C=C), best)
            results[n_pass] = (gap, coefficient_signs_agree(est.coef_, full.coef_, certain))
    assert est.n_iter_[0] == len(est.loss_curve_) == 20 * max(passes)
    return results


def test_breast_cancer_stream_reaches_fit():
    """Raw features (scales from 1e-3 to 1e3). Measured relative gaps: 1.2e-1
    after 1 pass, 3.4e-5 after 3, at rounding level (|gap| < 1e-14) from 5 on;
    the signs agree from pass 1 on. Thresholds: 0.2, 1e-4, 1e-12; signs
    after 5 passes."""
    X, y = load_breast_cancer(return_X_y=True)
    results = _relative_gaps_and_signs(X, y, (1, 3, 5, 6))
    assert 0 < results[1][0] < 0.2, results
    assert results[3][0] < 1e-4, results
    for n_pass in (5, 6):
        gap, signs = results[n_pass]
        assert abs(gap) < 1e-12 and signs, results


def test_digits_stream_reaches_fit():
    """Ten classes, 640 coefficients (a softmax row per class), raw pixels.
    Measured relative gaps: 3.2 after 1 pass, 8e-2 after 3, 3.2e-5 after 5,
    rounding level (< 1e-14) from 7 on, where every sign fit determines
    agrees. Thresholds: 5, 0.2, 1e-4, 1e-12 and the signs after 7 passes."""
    X, y = load_digits(return_X_y=True)
    results = _relative_gaps_and_signs(X, y, (1, 3, 5, 7))
    assert 0 < results[1][0] < 5, results
    assert results[3][0] < 0.2, results
    assert results[5][0] < 1e-4, results
    gap, signs = results[7]
    assert abs(gap) < 1e-12 and signs, results


def test_order_of_batches_within_passes_does_not_matter():
    """Iris (3 classes) in 6 batches, each pass in a new random order."""
    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    batches = [(X[i], y[i]) for i in np.array_split(rng.permutation(len(y)), 6)]
    reference = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    best = log_loss_objective(X, y, reference.coef_, reference.intercept_)
    est = GDLogisticRegression()
    for _ in range(7):
        for index in rng.permutation(len(batches)):
            est.partial_fit(*batches[index], classes=[0, 1, 2])
    ours = log_loss_objective(X, y, est.coef_, est.intercept_)
    assert abs(relative_gap(ours, best)) < 1e-10


def test_batch_twice_within_a_pass_counts_once():
    """A batch passed again before the pass is complete is evaluated (its
    objective joins loss_curve_) but neither changes the coefficients nor
    counts twice: the result is that of the passes without it."""
    X, y, s, classes, splits = make_classification_stream(12, 2)
    batches = [(X[i], y[i], s[i]) for i in splits]
    plain = streamed(GDLogisticRegression(), batches, 4, classes=classes)
    doubled = GDLogisticRegression()
    for n_pass in range(4):
        for t, (Xb, yb, sb) in enumerate(batches):
            extra = {"classes": classes} if n_pass == t == 0 else {}
            doubled.partial_fit(Xb, yb, sample_weight=sb, **extra)
            if n_pass > 0 and t == 1:
                coef = doubled.coef_.copy()
                doubled.partial_fit(Xb, yb, sample_weight=sb)
                np.testing.assert_array_equal(doubled.coef_, coef)
    np.testing.assert_allclose(doubled.coef_, plain.coef_, rtol=1e-12, atol=1e-14)


def test_a_sweep_that_raises_the_objective_is_redone_from_its_start():
    """The model pass after a sweep knows the data set's objective at the
    sweep's end exactly; if it rose, the next sweep starts again from where
    the last one started, more cautiously, and the stream still reaches fit.
    A sweep gone astray is simulated by moving the coefficients away at its
    end (white box: the stream's state)."""
    X, y = load_breast_cancer(return_X_y=True)
    batches = [(X[i], y[i], np.ones(len(y[i]))) for i in gen_batches(len(y), 57)]
    est = streamed(GDLogisticRegression(), batches, 3, classes=[0, 1])  # ends a sweep
    newton = est._stream.newton
    start_of_sweep = newton._anchor[0]
    newton.theta = newton.theta * 3.0  # far worse coefficients
    streamed(est, batches, 1)  # the model pass measures them
    est.partial_fit(*batches[0][:2])  # the next sweep starts from its anchor
    assert newton._caution > 0
    np.testing.assert_array_equal(newton._anchor[0], start_of_sweep)
    streamed(est, batches[1:], 1)
    streamed(est, batches, 6)
    full = GDLogisticRegression(solver="newton").fit(X, y)
    best = log_loss_objective(X, y, full.coef_, full.intercept_)
    ours = log_loss_objective(X, y, est.coef_, est.intercept_)
    assert abs(relative_gap(ours, best)) < 1e-10


# ---------------------------------------------------------------------------
# The first-order stream, step by step against the numpy reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_linear_first_order_steps_match_reference(l1_ratio, weighted):
    X, y, s, splits = make_regression_stream(0)
    learning_rate, alpha, n_passes = 0.05, 0.1, 3
    s = s if weighted else np.ones_like(y)
    batches = [(X[i], y[i], s[i]) for _ in range(n_passes) for i in splits]
    est = GDLinearRegression(alpha=alpha, l1_ratio=l1_ratio, solver="gd",
                             precondition="none", learning_rate=learning_rate)
    for t, (Xb, yb, sb) in enumerate(batches, start=1):
        est.partial_fit(Xb, yb, sample_weight=sb if weighted else None)
        # n_iter_ counts calls; loss_curve_ grows by one per call.
        assert est.n_iter_ == t
        assert len(est.loss_curve_) == t
    w, b, curve = linear_first_order_reference(batches, alpha=alpha, l1_ratio=l1_ratio,
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
def test_logistic_first_order_steps_match_reference(n_classes, l1_ratio):
    X, y, s, classes, splits = make_classification_stream(1, n_classes)
    # C small enough that the penalty is a visible part of each step: a wrong
    # penalty strength (1/(C S_batch), or 1/(C S) with S growing each pass)
    # changes the result far beyond REPLICATION_RTOL.
    learning_rate, C, n_passes = 0.5, 0.02, 3
    batches = [(X[i], y[i], s[i]) for _ in range(n_passes) for i in splits]
    est = GDLogisticRegression(C=C, l1_ratio=l1_ratio, solver="gd", precondition="none",
                               learning_rate=learning_rate)
    for t, (Xb, yb, sb) in enumerate(batches, start=1):
        est.partial_fit(Xb, yb, sample_weight=sb, classes=classes if t == 1 else None)
        # An array of shape (1,), as LogisticRegression's n_iter_.
        assert est.n_iter_.shape == (1,) and est.n_iter_[0] == t
        assert len(est.loss_curve_) == t
    np.testing.assert_array_equal(est.classes_, classes)
    W, b, curve = logistic_first_order_reference(batches, classes, C=C, l1_ratio=l1_ratio,
                                                 learning_rate=learning_rate)
    np.testing.assert_allclose(est.loss_curve_, curve, rtol=REPLICATION_RTOL)
    np.testing.assert_allclose(est.coef_, W, rtol=REPLICATION_RTOL,
                               atol=REPLICATION_RTOL * np.max(np.abs(W)))
    np.testing.assert_allclose(est.intercept_, b, rtol=REPLICATION_RTOL,
                               atol=REPLICATION_RTOL * np.max(np.abs(b)))


def test_a_hessian_too_large_to_form_gives_the_first_order_stream():
    """2048 features and an intercept: 2049 coordinates, above the 2048 of a
    Hessian partial_fit forms; the default solver then takes the same steps
    as solver="gd" (the first-order stream), and the Newton-type stream still
    serves one feature fewer."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2048))
    y = X[:, :5] @ np.arange(1.0, 6.0) + rng.standard_normal(40)
    batches = [(X[i], y[i], np.ones(20)) for i in (slice(0, 20), slice(20, 40))]
    default = streamed(GDLinearRegression(alpha=1.0), batches, 2)
    first_order = streamed(GDLinearRegression(alpha=1.0, solver="gd"), batches, 2)
    assert default._stream.newton is None
    np.testing.assert_array_equal(default.coef_, first_order.coef_)
    np.testing.assert_array_equal(default.loss_curve_, first_order.loss_curve_)
    narrower = streamed(GDLinearRegression(alpha=1.0),
                        [(Xb[:, 1:], yb, sb) for Xb, yb, sb in batches], 1)
    assert narrower._stream.newton is not None


@pytest.mark.parametrize("estimator", [GDLinearRegression(alpha=0.1),
                                       GDLogisticRegression(C=0.5)],
                         ids=lambda e: type(e).__name__)
def test_loss_curve_is_batch_objective_before_the_call(estimator):
    """With the default (Newton-type) stream and preconditioning: entry t is
    the batch objective at the coefficients left by call t - 1, checked with
    an independent objective, through a first and a second pass."""
    if isinstance(estimator, GDLinearRegression):
        X, y, _, splits = make_regression_stream(2)
        objective = lambda i, est: least_squares_objective(  # noqa: E731
            X[i], y[i], est.coef_, est.intercept_, alpha=estimator.alpha)
        extra = {}
    else:
        X, y, _, classes, splits = make_classification_stream(2, 3)
        sizes = np.cumsum([len(i) for i in splits])

        def objective(i, est, seen):
            return log_loss_objective(X[i], y[i], est.coef_, est.intercept_,
                                      C=estimator.C * seen / len(i), classes=classes)
        extra = {"classes": classes}
    estimator.partial_fit(X[splits[0]], y[splits[0]], **extra)
    calls = [(t, i) for t, i in enumerate(splits)][1:] + list(enumerate(splits))
    for n, (t, i) in enumerate(calls, start=2):
        if isinstance(estimator, GDLinearRegression):
            expected = objective(i, estimator)
        else:
            # The data set's weight: the batches so far in the first pass,
            # all of them in the second.
            seen = sizes[t] if n <= len(splits) else sizes[-1]
            expected = objective(i, estimator, seen)
        estimator.partial_fit(X[i], y[i])
        assert np.ravel(estimator.n_iter_)[0] == n
        assert len(estimator.loss_curve_) == n
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
    # Whereas a fresh stream starts from zero coefficients and the loss's best
    # intercept for them: its first batch objective is the one there.
    fresh = type(estimator)(**estimator.get_params())
    extra = {"classes": classes} if isinstance(estimator, GDLogisticRegression) else {}
    fresh.partial_fit(X, y, **extra)
    if isinstance(estimator, GDLinearRegression):
        start = least_squares_objective(X, y, np.zeros(X.shape[1]), np.mean(y),
                                        alpha=estimator.alpha)
    else:
        shares = np.array([np.mean(y == label) for label in classes])
        start = log_loss_objective(X, y, np.zeros((len(classes), X.shape[1])),
                                   np.log(shares) - np.mean(np.log(shares)),
                                   C=estimator.C, classes=classes)
    np.testing.assert_allclose(fresh.loss_curve_, [start], rtol=1e-12)


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


