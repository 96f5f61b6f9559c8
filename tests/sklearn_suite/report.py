"""Run scikit-learn's tests on our estimators and write REPORT.md.

Usage, from the repository root::

    python tests/sklearn_suite/report.py                 # run the suite, write the report
    python tests/sklearn_suite/report.py --json run.json # report on an earlier run
    python tests/sklearn_suite/report.py --before before.json --before-commit f120492

The suite runs with ``SCIPY_ARRAY_API=1`` (so that scikit-learn's array-API
tests run on array_api_strict) through
``python -m pytest tests/sklearn_suite -p no:cacheprovider
--sklearn-suite-json=PATH``. ``--before`` takes the JSON of a run of the same
suite on an earlier commit: the tests that failed there and pass now are the
defects of ours the suite found and the fixes removed.
"""

import argparse
import collections
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from sklearn_suite.known_failures import KNOWN_FAILURES, match_known_failure  # noqa: E402

FILES = {
    "test_sklearn_logistic.py": "sklearn/linear_model/tests/test_logistic.py",
    "test_sklearn_base.py": "sklearn/linear_model/tests/test_base.py "
                            "(the tests that use LinearRegression)",
}
CATEGORIES = {
    "a": "(a) An API or solver behaviour scikit-learn has and we deliberately do not",
    "b": "(b) A tolerance or iteration budget the test sets for scikit-learn's own solver",
    "c": "(c) A defect of ours",
    "?": "Not categorised (a new failure: add it to known_failures.py, or fix it)",
}
COMMAND = (
    "SCIPY_ARRAY_API=1 python -m pytest tests/sklearn_suite -p no:cacheprovider "
    "--sklearn-suite-json=PATH"
)


def run_suite(path):
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    command = [sys.executable, "-m", "pytest", "tests/sklearn_suite", "-p", "no:cacheprovider",
               "-q", f"--sklearn-suite-json={path}"]
    completed = subprocess.run(command, cwd=ROOT, env=env)
    if completed.returncode not in (0, 1):
        sys.exit(f"pytest exited with {completed.returncode}")


def classify(test_id, record):
    """``(outcome, category)``: outcome in passed/failed/error/skipped."""
    outcome = record["outcome"]
    key = match_known_failure(test_id)
    if outcome == "xfailed":
        outcome = "failed"
    elif outcome == "xpassed":
        outcome = "passed"
    category = None
    if outcome in ("failed", "error"):
        category = KNOWN_FAILURES[key][0] if key else "?"
    return outcome, category, key


def function_of(test_id):
    return test_id.split("::", 1)[1].split("[", 1)[0]


def parameters_of(test_id):
    match = re.search(r"\[(.*)\]$", test_id)
    return match.group(1) if match else ""


def versions():
    import numpy
    import scipy
    import sklearn

    return (f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
            f"numpy {numpy.__version__}, scipy {scipy.__version__}")


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(records, before, output, before_commit=None):
    lines = []
    add = lines.append
    seed = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42 (default)")
    add("# scikit-learn's own tests on our estimators")
    add("")
    add(f"Date: {datetime.date.today().isoformat()}; commit {git_commit()}; {versions()}; "
        f"global_random_seed {seed}.")
    add("")
    add(f"Command (from the repository root): `{COMMAND}`, through "
        "`python tests/sklearn_suite/report.py`, which writes this file. See README.md "
        "for the adapters (how `LogisticRegression` / `LinearRegression` arguments map "
        "onto ours).")
    add("")

    outcomes = collections.defaultdict(collections.Counter)
    untouched = collections.Counter()
    failures = collections.defaultdict(lambda: collections.defaultdict(list))
    stale = []
    sklearn_xpass = collections.Counter()
    for test_id, record in sorted(records.items()):
        file = test_id.split("::")[0]
        outcome, category, key = classify(test_id, record)
        outcomes[file][outcome] += 1
        if outcome == "passed" and not record.get("our_fits"):
            untouched[file] += 1
        if category is not None:
            failures[category][(file, function_of(test_id), key)].append(test_id)
        if record["outcome"] == "xpassed":
            if key is not None:
                stale.append(test_id)
            else:
                sklearn_xpass[file] += 1

    add("## Outcomes")
    add("")
    add("| file | scikit-learn's file | passed | (of which without our estimator) "
        "| failed | error | skipped |")
    add("|---|---|---|---|---|---|---|")
    for file, origin in FILES.items():
        counts = outcomes[file]
        add(f"| {file} | {origin} | {counts['passed']} | {untouched[file]} | "
            f"{counts['failed']} | {counts['error']} | {counts['skipped']} |")
    add("")
    add("\"Without our estimator\": tests that passed without fitting the adapter "
        "(they exercise `LogisticRegressionCV`, `_logistic_regression_path` or "
        "parameter checks of scikit-learn's own). Skipped: mostly scikit-learn's "
        "array-API tests for namespaces that are not installed (torch, cupy, dpnp; "
        "array_api_strict runs). The failed tests are marked `xfail` by "
        "known_failures.py, so the run itself stays green and only a new failure "
        "turns it red.")
    if sum(sklearn_xpass.values()):
        add("")
        add(f"{sum(sklearn_xpass.values())} passed tests carry scikit-learn's own `xfail` "
            "marker (`test_linear_regression_sample_weight_consistency` on CSR input, "
            "\"known to fail for CSR arrays, see issue #30131\"): they fail for "
            "scikit-learn's solver and pass on ours.")
    add("")

    if before is not None:
        fixed = sorted(
            test_id for test_id, record in records.items()
            if record["outcome"] in ("passed", "xpassed")
            and before.get(test_id, {}).get("outcome") in ("failed", "error")
        )
        add("## Defects of ours this suite found, now fixed (category c)")
        add("")
        where = f" (commit {before_commit})" if before_commit else ""
        add(f"Tests that failed on the code before the fixes{where} and pass now, "
            "with the failure they showed:")
        add("")
        by_function = collections.defaultdict(list)
        for test_id in fixed:
            by_function[(test_id.split("::")[0], function_of(test_id))].append(test_id)
        for (file, function), ids in sorted(by_function.items()):
            message = before[ids[0]]["message"]
            add(f"- `{file}::{function}` ({len(ids)} of its parameters): `{message}`")
        add("")

    add("## Failures by category")
    for category in ("c", "?", "a", "b"):
        groups = failures.get(category, {})
        add("")
        add(f"### {CATEGORIES[category]}: {sum(len(ids) for ids in groups.values())}")
        add("")
        if not groups:
            add("None.")
            continue
        for (file, function, key), ids in sorted(groups.items()):
            reason = KNOWN_FAILURES[key][1] if key else records[ids[0]]["message"]
            params = [parameters_of(test_id) for test_id in ids]
            shown = ", ".join(f"`[{p}]`" for p in params if p)
            where = f"`{file}::{function}`" + (f" {shown}" if shown else "")
            add(f"- {where}: {reason}.")

    if stale:
        add("")
        add("## Catalogued failures that pass now (remove them from known_failures.py)")
        add("")
        for test_id in stale:
            add(f"- `{test_id}`")

    add("")
    add("## Each failure as observed")
    add("")
    add("<details><summary>test id: first line of the failure</summary>")
    add("")
    for test_id, record in sorted(records.items()):
        outcome, category, _ = classify(test_id, record)
        if category is not None:
            message = record.get("failure") or record["message"]
            add(f"- ({category}) `{test_id}`: {message}")
    add("")
    add("</details>")
    output.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="report on this run instead of running the suite")
    parser.add_argument("--before", help="JSON of a run before the fixes")
    parser.add_argument("--before-commit", help="the commit of that run, for the report")
    parser.add_argument("--output", default=str(HERE / "REPORT.md"))
    args = parser.parse_args()
    if args.json:
        path = args.json
    else:
        path = os.path.join(tempfile.mkdtemp(), "sklearn_suite.json")
        run_suite(path)
        print(f"outcomes in {path}")
    with open(path) as stream:
        records = json.load(stream)
    before = None
    if args.before:
        with open(args.before) as stream:
            before = json.load(stream)
    write_report(records, before, Path(args.output), args.before_commit)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
