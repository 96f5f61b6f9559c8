"""Fuzz test: arbitrary shapes, dtypes and values thrown at both estimators.

Every outcome must be either a finite result (finite ``coef_`` and
``intercept_``; finite predictions, probabilities in [0, 1]) or a
``ValueError``/``TypeError`` (subclasses included) with a non-empty message.
Any other exception, a NaN or inf in an output, a modified input, or a call
that runs for more than ``TIME_LIMIT_S`` seconds fails the test.

Environment variables
---------------------
``GDESTIMATORS_FUZZ_EXAMPLES``
    Number of hypothesis examples (default 200). A long run:
    ``GDESTIMATORS_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py``.
``GDESTIMATORS_FUZZ_REPORT``
    If set, a file to which one JSON line per call is appended (estimator,
    method, outcome, exception type, message, warnings, parameters). Each
    example with a forbidden outcome is also pickled (appended) to
    ``REPORT_FILE.forbidden.pkl``, to be replayed with
    ``python tests/test_fuzz.py --replay REPORT_FILE.forbidden.pkl``.
    Summarise the report with ``python tests/test_fuzz.py REPORT_FILE``.
``GDESTIMATORS_FUZZ_KEEP_GOING``
    If set (to anything but ``0`` or empty), a forbidden outcome is recorded
    and the run goes on through all examples, failing at the end with a
    summary; by default the first one fails the example at once, so that
    hypothesis shrinks it to a minimal reproducer.
"""

import json
import os
import pickle
import signal
import sys
import time
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._solvers import SOLVERS

N_EXAMPLES = int(os.environ.get("GDESTIMATORS_FUZZ_EXAMPLES", "200"))
REPORT = os.environ.get("GDESTIMATORS_FUZZ_REPORT")
KEEP_GOING = os.environ.get("GDESTIMATORS_FUZZ_KEEP_GOING", "") not in ("", "0")
TIME_LIMIT_S = 60

SPECIALS = [np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 0.0, 1e-300, 1e300]
DTYPES = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "object"]
VALUE_KINDS = ["normal", "constant", "huge", "tiny", "mixed_scales", "integers",
               "offset", "zeros"]


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _values(rng, kind, shape):
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "constant":
        return np.full(shape, rng.choice([0.0, 1.0, 0.1, -3.0, 1e6]))
    if kind == "huge":
        return rng.standard_normal(shape) * 10.0 ** rng.uniform(100, 307)
    if kind == "tiny":
        return rng.standard_normal(shape) * 10.0 ** rng.uniform(-320, -100)
    if kind == "mixed_scales":
        scales = 10.0 ** rng.uniform(-200, 200, shape[-1] if len(shape) > 1 else 1)
        return rng.standard_normal(shape) * scales
    if kind == "integers":
        return rng.integers(-5, 6, shape).astype(float)
    if kind == "offset":
        return rng.standard_normal(shape) + 1e8
    return np.zeros(shape)


def _inject(rng, values, n_specials):
    values = np.array(values, dtype=np.float64)
    if values.size and n_specials:
        flat = values.reshape(-1)
        positions = rng.integers(0, flat.size, n_specials)
        flat[positions] = rng.choice(SPECIALS, n_specials)
    return values


def _as_dtype(rng, values, dtype):
    with np.errstate(all="ignore"):
        if dtype == "bool":
            return values != 0
        if dtype in ("int64", "int8", "uint8"):
            info = np.iinfo(dtype)
            clean = np.nan_to_num(values, nan=0.0, posinf=info.max, neginf=info.min)
            return np.clip(np.round(clean), info.min, info.max).astype(dtype)
        if dtype == "object":
            out = values.astype(object)
            if out.size and rng.random() < 0.3:
                out.reshape(-1)[rng.integers(0, out.size)] = rng.choice(
                    np.array([None, "1.5", "abc", 3], dtype=object))
            return out
        return values.astype(dtype)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["linear", "logistic"]))
    # Degenerate shapes and invalid values are drawn often enough to be
    # exercised, and rarely enough that most examples reach the solvers.
    n_rows = draw(st.sampled_from([0, 1, 2, 3, None, None, None, None, None, None]))
    if n_rows is None:
        n_rows = draw(st.integers(4, 40))
    n_cols = draw(st.sampled_from([0, 1, 1, None, None, None, None, None]))
    if n_cols is None:
        n_cols = draw(st.integers(2, 6))
    dtype = draw(st.sampled_from(DTYPES + ["float64"] * 4 + ["float32"] * 2))
    x_kind = draw(st.sampled_from(VALUE_KINDS + ["normal"] * 3))
    x_specials = draw(st.sampled_from([0] * 8 + [1, 3]))
    X = _inject(rng, _values(rng, x_kind, (n_rows, n_cols)), x_specials)
    if draw(st.booleans()) and n_cols > 1:
        X[:, -1] = X[:, 0]  # a duplicated column
    X = _as_dtype(rng, X, dtype)
    if draw(st.booleans()) and X.ndim == 2 and X.dtype != object:
        X = np.asfortranarray(X)

    y_specials = draw(st.sampled_from([0] * 8 + [1]))
    if kind == "linear":
        y_kind = draw(st.sampled_from(VALUE_KINDS + ["normal"] * 3))
        y_shape = (n_rows, 2) if draw(st.booleans()) and draw(st.booleans()) else (n_rows,)
        y = _inject(rng, _values(rng, y_kind, y_shape), y_specials)
        y = _as_dtype(rng, y, draw(st.sampled_from(["float64", "float32", "int64",
                                                    "bool", "object"])))
    else:
        n_classes = draw(st.sampled_from([1, 2, 2, 2, 3, 3, 4]))
        labels = np.arange(n_rows) % n_classes
        rng.shuffle(labels)
        label_kind = draw(st.sampled_from(["int"] * 4 + ["str", "float", "bool",
                                                         "continuous", "with_nan"]))
        if label_kind == "str":
            y = np.array([f"c{v}" for v in labels], dtype=object)
        elif label_kind == "float":
            y = labels.astype(float) * 2.5 - 1.0
        elif label_kind == "bool":
            y = labels % 2 == 0
        elif label_kind == "continuous":
            y = rng.standard_normal(n_rows)
        elif label_kind == "with_nan":
            y = _inject(rng, labels.astype(float), max(1, y_specials))
        else:
            y = labels
        # Occasionally a wrong length.
        if draw(st.integers(0, 19)) == 0:
            y = y[:-1] if len(y) else np.array([0, 1])

    weight_kind = draw(st.sampled_from(
        ["none"] * 8 + ["uniform"] * 3 + ["integers"] * 2 + ["some_zero"] * 2
        + ["zeros", "negative", "specials", "huge", "tiny", "wrong_length"]))
    if weight_kind == "none":
        sample_weight = None
    elif weight_kind == "uniform":
        sample_weight = rng.uniform(0.1, 3.0, n_rows)
    elif weight_kind == "integers":
        sample_weight = rng.integers(0, 4, n_rows)
    elif weight_kind == "zeros":
        sample_weight = np.zeros(n_rows)
    elif weight_kind == "some_zero":
        sample_weight = (rng.random(n_rows) < 0.5).astype(float)
    elif weight_kind == "negative":
        sample_weight = rng.uniform(-1.0, 1.0, n_rows)
    elif weight_kind == "specials":
        sample_weight = _inject(rng, np.ones(n_rows), 1)
    elif weight_kind == "huge":
        sample_weight = np.full(n_rows, 1e300) * rng.uniform(0.5, 2.0, n_rows)
    elif weight_kind == "tiny":
        sample_weight = np.full(n_rows, 1e-300) * rng.uniform(0.5, 2.0, n_rows)
    else:
        sample_weight = np.ones(n_rows + 1)

    params = dict(
        fit_intercept=draw(st.booleans()),
        solver=draw(st.sampled_from(["auto", *SOLVERS])),
        precondition=draw(st.sampled_from(["auto", "full", "diagonal", "none"])),
        max_iter=draw(st.integers(1, 20)),
        tol=draw(st.sampled_from([0.0, 1e-10, 1e-4])),
        learning_rate=draw(st.sampled_from(["auto", "auto", 1e-3, 1.0, 1e3])),
        l1_ratio=draw(st.sampled_from([0.0, 0.0, 0.5, 1.0])),
        warm_start=draw(st.booleans()),
    )
    if kind == "linear":
        params["alpha"] = draw(st.sampled_from([0.0, 1e-3, 1.0, 1e3]))
    else:
        params["C"] = draw(st.sampled_from([1e-3, 1.0, 1e3, np.inf]))
        params["class_weight"] = draw(st.sampled_from([None, None, "balanced"]))
    fit_method = draw(st.sampled_from(["fit", "fit", "fit", "partial_fit"]))
    refit = draw(st.booleans())
    return dict(kind=kind, X=X, y=y, sample_weight=sample_weight, params=params,
                fit_method=fit_method, refit=refit,
                description=dict(seed=seed, shape=list(np.shape(X)), dtype=dtype,
                                 x_kind=x_kind, x_specials=x_specials,
                                 weights=weight_kind, fit_method=fit_method,
                                 params={k: str(v) for k, v in params.items()}))


# ---------------------------------------------------------------------------
# Running and recording
# ---------------------------------------------------------------------------


class _TimeLimit:
    """Fail (instead of hanging) when one call runs for too long."""

    def __init__(self, seconds):
        self.seconds = seconds

    def _handler(self, signum, frame):
        raise TimeoutError(f"call ran for more than {self.seconds} s")

    def __enter__(self):
        self._usable = hasattr(signal, "SIGALRM")
        if self._usable:
            self._previous = signal.signal(signal.SIGALRM, self._handler)
            signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        if self._usable:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self._previous)
        return False


def _record(entry):
    if REPORT:
        with open(REPORT, "a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")


def _call(problem, method, function, *args, **kwargs):
    """Run one call; return (result, entry). Raise on a forbidden outcome."""
    entry = dict(estimator=problem["kind"], method=method, **problem["description"])
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _TimeLimit(TIME_LIMIT_S), np.errstate(all="warn"):
                result = function(*args, **kwargs)
        except (ValueError, TypeError) as error:
            entry.update(outcome="error", exception=type(error).__name__,
                         message=str(error)[:160])
            entry["warnings"] = sorted({type(w.message).__name__ for w in caught})
            entry["seconds"] = round(time.perf_counter() - start, 4)
            _record(entry)
            assert str(error).strip(), f"{type(error).__name__} with an empty message"
            return None, entry
        except Exception as error:
            entry.update(outcome="forbidden", exception=type(error).__name__,
                         message=str(error)[:160])
            _record(entry)
            raise Forbidden(entry) from error
    entry.update(outcome="ok", exception=None, message="")
    entry["warnings"] = sorted({type(w.message).__name__ for w in caught})
    entry["seconds"] = round(time.perf_counter() - start, 4)
    return result, entry


class Forbidden(AssertionError):
    """An outcome the promise excludes; carries the recorded entry."""

    def __init__(self, entry):
        super().__init__(f"{entry['estimator']}.{entry['method']}: "
                         f"{entry['exception']}: {entry['message']}")
        self.entry = entry


def _fail_with(entry, reason):
    entry.update(outcome="forbidden", exception="NonFiniteOutput", message=reason[:300])
    _record(entry)
    raise Forbidden(entry)


def _check_output(entry, name, value, probabilities=False):
    value = np.asarray(value)
    if value.dtype.kind not in "fc":
        # Labels (predict of a classifier): any dtype is fine.
        return
    if not np.all(np.isfinite(value)):
        _fail_with(entry, f"{entry['method']}: non-finite {name}: {value!r}")
    if probabilities and value.size:
        if np.any(value < 0) or np.any(value > 1):
            _fail_with(entry, f"probabilities outside [0, 1]: {value!r}")
        if not np.allclose(value.sum(axis=1), 1.0, atol=1e-5):
            _fail_with(entry, f"probabilities do not sum to 1: {value!r}")


def _fingerprint(value):
    return None if value is None else pickle.dumps(value)


def _fit(problem, estimator):
    X, y, sample_weight = problem["X"], problem["y"], problem["sample_weight"]
    if problem["fit_method"] == "partial_fit":
        kwargs = {}
        if problem["kind"] == "logistic":
            try:
                kwargs["classes"] = np.unique(y)
            except TypeError:  # mixed label types: let partial_fit complain
                kwargs["classes"] = y
        return _call(problem, "partial_fit", estimator.partial_fit, X, y,
                     sample_weight=sample_weight, **kwargs)
    return _call(problem, "fit", estimator.fit, X, y, sample_weight=sample_weight)


def _run_one(problem):
    Estimator = GDLinearRegression if problem["kind"] == "linear" else GDLogisticRegression
    estimator = Estimator(**problem["params"])
    inputs = (problem["X"], problem["y"], problem["sample_weight"])
    before = [_fingerprint(a) for a in inputs]

    fitted, entry = _fit(problem, estimator)
    if fitted is not None:
        _check_output(entry, "coef_", estimator.coef_)
        _check_output(entry, "intercept_", estimator.intercept_)
        _record(entry)
        if problem["refit"]:
            # Again (warm start or partial_fit continue from the fitted state).
            refitted, entry = _fit(problem, estimator)
            if refitted is not None:
                _check_output(entry, "coef_", estimator.coef_)
                _check_output(entry, "intercept_", estimator.intercept_)
                _record(entry)
        if hasattr(estimator, "coef_"):
            methods = ["predict"]
            if problem["kind"] == "logistic":
                methods += ["predict_proba", "decision_function"]
            for method in methods:
                result, entry = _call(problem, method, getattr(estimator, method),
                                      problem["X"])
                if result is not None:
                    _check_output(entry, method, result,
                                  probabilities=method == "predict_proba")
                    _record(entry)

    after = [_fingerprint(a) for a in inputs]
    for name, old, new in zip(["X", "y", "sample_weight"], before, after, strict=True):
        if old != new:
            entry = dict(estimator=problem["kind"], method="any", **problem["description"],
                         outcome="forbidden", exception="ModifiedInput",
                         message=f"{name} was modified")
            _record(entry)
            raise Forbidden(entry)


def test_fuzz_fit_predict():
    forbidden = []

    @settings(max_examples=N_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(problem=problems())
    def run(problem):
        try:
            _run_one(problem)
        except Forbidden as failure:
            if REPORT:
                with open(REPORT + ".forbidden.pkl", "ab") as handle:
                    pickle.dump(problem, handle)
            if not KEEP_GOING:
                raise
            forbidden.append((failure.entry, problem))

    run()
    if forbidden:
        kinds = Counter((e["estimator"], e["method"], e["exception"]) for e, _ in forbidden)
        first = {}
        for entry, problem in forbidden:
            first.setdefault((entry["estimator"], entry["method"], entry["exception"]),
                             (entry, problem))
        lines = [f"{len(forbidden)} forbidden outcomes in {N_EXAMPLES} examples:"]
        for key, n in kinds.most_common():
            entry, problem = first[key]
            lines.append(f"  {n:5d} x {key}: {entry['message'][:200]}\n"
                         f"          first case: {problem!r}"[:1500])
        pytest.fail("\n".join(lines))


# ---------------------------------------------------------------------------
# Summary of a report file
# ---------------------------------------------------------------------------


def summarise(path):
    """Counts of outcomes by estimator, method and exception type."""
    entries = [json.loads(line) for line in open(path)]
    by_outcome = Counter((e["outcome"], e["exception"] or "-") for e in entries)
    by_method = Counter((e["estimator"], e["method"], e["outcome"],
                         e["exception"] or "-") for e in entries)
    messages = Counter((e["exception"], e["message"][:90]) for e in entries
                       if e["outcome"] != "ok")
    warned = Counter(w for e in entries for w in e.get("warnings", []))
    slowest = max((e.get("seconds", 0.0) for e in entries), default=0.0)
    lines = [f"{len(entries)} calls recorded; slowest call {slowest:.3f} s", "",
             "outcome / exception type:"]
    lines += [f"  {n:7d}  {o:9s} {x}" for (o, x), n in by_outcome.most_common()]
    lines += ["", "estimator / method / outcome / exception type:"]
    lines += [f"  {n:7d}  {k:8s} {m:17s} {o:9s} {x}"
              for (k, m, o, x), n in sorted(by_method.items())]
    lines += ["", "warnings seen (calls):"]
    lines += [f"  {n:7d}  {w}" for w, n in warned.most_common()]
    lines += ["", "most common error messages:"]
    lines += [f"  {n:7d}  {x}: {m}" for (x, m), n in messages.most_common(40)]
    return "\n".join(lines)


def replay(path):
    """Run the pickled forbidden examples again, printing each outcome."""
    import traceback

    with open(path, "rb") as handle:
        while True:
            try:
                problem = pickle.load(handle)
            except EOFError:
                break
            print(f"--- {problem['kind']} {problem['fit_method']} "
                  f"params={problem['params']} description={problem['description']}")
            try:
                _run_one(problem)
                print("    no forbidden outcome now")
            except Forbidden as failure:
                print(f"    {failure}")
                if failure.__cause__ is not None:
                    print("    " + "".join(traceback.format_exception(
                        failure.__cause__)[-3:]).replace("\n", "\n    "))


if __name__ == "__main__":
    if sys.argv[1] == "--replay":
        replay(sys.argv[2])
    else:
        print(summarise(sys.argv[1]))
