"""Runs scikit-learn's own tests on our estimators; see README.md.

- ``global_random_seed``: scikit-learn's fixture (its ``pytest_generate_tests``,
  honouring ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED``);
- assertion rewriting for scikit-learn's test modules, for readable failures;
- ``test_sklearn_base.py``: keeps only the tests that use ``LinearRegression``;
- the failures catalogued in ``known_failures.py`` are marked ``xfail`` with
  their category and reason (``--sklearn-suite-raw`` leaves them unmarked);
- ``--sklearn-suite-json=PATH`` writes every test's outcome, its first line of
  failure and whether it reached our estimator, for ``report.py``.
"""

import inspect
import json

import pytest
from sklearn.conftest import pytest_generate_tests  # noqa: F401  (global_random_seed)
from sklearn_suite import adapters
from sklearn_suite.known_failures import KNOWN_FAILURES, match_known_failure

SKLEARN_TEST_MODULES = {
    "test_sklearn_logistic.py": "sklearn.linear_model.tests.test_logistic",
    "test_sklearn_base.py": "sklearn.linear_model.tests.test_base",
}
# Before any of them is imported.
pytest.register_assert_rewrite(*SKLEARN_TEST_MODULES.values())

#: Outcome of each test, by node id (for --sklearn-suite-json).
RECORDS = {}

#: Only the tests of test_base.py that mention this name are kept.
BASE_KEEP = "LinearRegression"


def pytest_addoption(parser):
    group = parser.getgroup("sklearn_suite")
    group.addoption("--sklearn-suite-json", default=None,
                    help="write each test's outcome to this JSON file")
    group.addoption("--sklearn-suite-raw", action="store_true",
                    help="do not mark the catalogued failures as xfail")
    group.addoption("--sklearn-suite-liblinear-as-ours", action="store_true",
                    help="diagnostic: run solver='liblinear' and dual=True on our "
                         "solver instead of refusing them (implies --sklearn-suite-raw)")


def pytest_configure(config):
    for marker in ("thread_unsafe", "parallel_threads(n)", "iterations(n)"):
        config.addinivalue_line("markers", f"{marker}: scikit-learn's marker")
    adapters.LIBLINEAR["as_ours"] = config.getoption("--sklearn-suite-liblinear-as-ours")


def _file_of(item):
    return item.nodeid.split("::")[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        if _file_of(item) == "test_sklearn_base.py" and isinstance(item, pytest.Function):
            source = inspect.getsource(item.function)
            if BASE_KEEP not in source:
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if config.getoption("--sklearn-suite-raw") or adapters.LIBLINEAR["as_ours"]:
        return
    for item in items:
        known = match_known_failure(_short_id(item.nodeid))
        if known is not None:
            category, reason = KNOWN_FAILURES[known]
            item.add_marker(pytest.mark.xfail(reason=f"({category}) {reason}", strict=False))


def _short_id(nodeid):
    """``test_sklearn_logistic.py::test_name[params]``."""
    return nodeid.rsplit("/", 1)[-1]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    adapters.FITS["count"] = 0
    try:
        return (yield)
    finally:
        item.user_properties.append(("our_fits", adapters.FITS["count"]))


def _first_line(report):
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # assert_allclose's message starts on its second line.
    return " ".join(lines[:2])[:300]


def pytest_runtest_logreport(report):
    record = RECORDS.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    fits = dict(report.user_properties).get("our_fits")
    if fits is not None:
        record["our_fits"] = fits
    xfail = hasattr(report, "wasxfail")
    if report.when == "call" or report.failed or report.skipped:
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "xfailed" if xfail else "skipped"
        else:
            outcome = "xpassed" if xfail else "passed"
        if record["outcome"] in ("passed", "xpassed") or report.when == "call":
            record["outcome"] = outcome
            record["message"] = (report.wasxfail if outcome == "xpassed"
                                 else _first_line(report))
            if outcome == "xfailed":
                record["failure"] = _first_line(report)


def pytest_sessionfinish(session):
    path = session.config.getoption("--sklearn-suite-json")
    if not path:
        return
    with open(path, "w") as stream:
        json.dump({_short_id(nodeid): record for nodeid, record in RECORDS.items()},
                  stream, indent=1, sort_keys=True)
