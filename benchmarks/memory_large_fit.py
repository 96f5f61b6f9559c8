"""Peak memory of fitting both estimators on a float64 X of several GB.

Usage::

    python benchmarks/memory_large_fit.py [--n-samples 4000000] [--n-features 100]
                                          [--max-iter 15] [--estimator both]

The target: a fit needs no more than 10% of ``X.nbytes`` on top of ``X``
itself (the design promises no copy of ``X``; everything else is of size
``n_samples`` or ``n_features**2``, or a block of rows).

Each estimator runs in a fresh child process (``ru_maxrss`` only ever grows,
so one process cannot measure two fits), which allocates ``X`` once (filled
in place, block by block, so that generating it makes no temporary copy),
builds the targets block by block, then fits under ``tracemalloc`` and
reports:

* ``tracemalloc`` peak during ``fit`` (numpy reports its buffers to
  tracemalloc; ``X`` was allocated before tracing started, so this is the
  memory the fit allocated on top of the caller's data);
* the resident set size just before ``fit`` and ``ru_maxrss`` (peak RSS of the
  process) before and after ``fit``: ``ru_maxrss_after - rss_before`` is the
  most the fit added to the process's resident memory (when ``fit`` raises
  the peak at all);
* the same from ``VmHWM`` after resetting it just before ``fit`` (Linux's
  ``/proc/self/clear_refs``), which resolves the fit's peak even when it
  stays below an earlier one;

each also as a fraction of ``X.nbytes``. The default is about 3.2 GB
(4,000,000 x 100 float64); ``max_iter`` is kept small because the memory
pattern of an iteration does not change with the iteration count.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

# benchmarks/ is on sys.path when run as a script.
from environment import proc_field

TARGET_EXTRA = 0.10
BLOCK_ROWS = 10_000


def _status_bytes(key):
    """A ``kB`` field of ``/proc/self/status`` in bytes; nan when missing.

    ``VmRSS`` is the resident set size, ``VmHWM`` its peak since the last
    reset (see _reset_high_water_mark).
    """
    value = proc_field("/proc/self/status", f"{key}:")
    return float("nan") if value == "unknown" else int(value.split()[0]) * 1024


def _reset_high_water_mark():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _max_rss_bytes():
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _make_data(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, n_features), dtype=np.float64)
    coef = rng.normal(0.0, 1.0, n_features)
    offsets = rng.normal(0.0, 3.0, n_features)
    y = np.empty(n_samples, dtype=np.float64)
    for start in range(0, n_samples, BLOCK_ROWS):
        block = X[start:start + BLOCK_ROWS]
        rng.standard_normal(out=block)
        block += offsets
        y[start:start + BLOCK_ROWS] = (block - offsets) @ coef + rng.standard_normal(
            block.shape[0])
    return X, y


def run_child(args):
    from gdestimators import GDLinearRegression, GDLogisticRegression

    X, y = _make_data(args.n_samples, args.n_features)
    if args.estimator == "linear":
        estimator = GDLinearRegression(max_iter=args.max_iter)
        target = y
    else:
        estimator = GDLogisticRegression(max_iter=args.max_iter)
        target = (y > 0).astype(np.int64)
    del y
    rss_before = _status_bytes("VmRSS")
    max_rss_before = _max_rss_bytes()
    hwm_reset = _reset_high_water_mark()
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, target)
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_after = _max_rss_bytes()
    hwm_after = _status_bytes("VmHWM")
    result = dict(
        estimator=repr(estimator),
        n_samples=args.n_samples,
        n_features=args.n_features,
        x_nbytes=X.nbytes,
        fit_seconds=seconds,
        n_iter=int(np.max(estimator.n_iter_)),  # the classifier's is an array of shape (1,)
        traced_peak=traced_peak,
        rss_before=rss_before,
        max_rss_before=max_rss_before,
        max_rss_after=max_rss_after,
        # ru_maxrss only resolves the fit's peak when the fit raised it.
        fit_rss_extra=(max_rss_after - rss_before if max_rss_after > max_rss_before
                       else None),
        hwm_reset=hwm_reset,
        fit_hwm_extra=(hwm_after - rss_before) if hwm_reset else None,
        warnings=sorted({f"{type(w.message).__name__}: {str(w.message)[:100]}"
                         for w in caught}),
    )
    print("RESULT " + json.dumps(result), flush=True)


def _gb(n_bytes):
    return f"{n_bytes / 1e9:7.3f} GB"


def report(result):
    x = result["x_nbytes"]
    traced = result["traced_peak"] / x
    measured = [traced]
    if result["fit_rss_extra"] is not None:
        rss_extra = result["fit_rss_extra"] / x
        measured.append(rss_extra)
        rss_line = f"{_gb(result['fit_rss_extra'])}  = {100 * rss_extra:6.2f}% of X"
    else:
        bound = result["max_rss_before"] - result["rss_before"]
        rss_line = (f"below the earlier peak (at most {_gb(bound)} = "
                    f"{100 * bound / x:.2f}% of X)")
    if result["fit_hwm_extra"] is not None:
        hwm_extra = result["fit_hwm_extra"] / x
        measured.append(hwm_extra)
        hwm_line = f"{_gb(result['fit_hwm_extra'])}  = {100 * hwm_extra:6.2f}% of X"
    else:
        hwm_line = "not available (cannot reset VmHWM)"
    verdict = "PASS" if max(measured) <= TARGET_EXTRA else "FAIL"
    lines = [
        f"{result['estimator']}: fit {result['fit_seconds']:.1f} s, "
        f"n_iter_={result['n_iter']}",
        f"  X.nbytes                       {_gb(x)}  "
        f"({result['n_samples']:,} x {result['n_features']} float64)",
        f"  tracemalloc peak during fit    {_gb(result['traced_peak'])}  "
        f"= {100 * traced:6.2f}% of X",
        f"  RSS just before fit            {_gb(result['rss_before'])}",
        f"  ru_maxrss before fit           {_gb(result['max_rss_before'])}",
        f"  ru_maxrss after fit            {_gb(result['max_rss_after'])}",
        f"  peak RSS added by fit (maxrss) {rss_line}",
        f"  peak RSS added by fit (VmHWM)  {hwm_line}",
        f"  target: peak of the fit within X + {100 * TARGET_EXTRA:.0f}%: {verdict}",
    ]
    lines += [f"  warning: {w}" for w in result["warnings"]]
    return "\n".join(lines), verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=4_000_000)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--max-iter", type=int, default=15)
    parser.add_argument("--estimator", choices=["both", "linear", "logistic"],
                        default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return 0
    names = ["linear", "logistic"] if args.estimator == "both" else [args.estimator]
    print(f"X: {args.n_samples:,} x {args.n_features} float64 = "
          f"{args.n_samples * args.n_features * 8 / 1e9:.2f} GB; "
          f"max_iter={args.max_iter}; one child process per estimator\n", flush=True)
    verdicts = []
    for name in names:
        command = [sys.executable, os.path.abspath(__file__), "--child",
                   "--estimator", name, "--n-samples", str(args.n_samples),
                   "--n-features", str(args.n_features), "--max-iter", str(args.max_iter)]
        completed = subprocess.run(command, capture_output=True, text=True)
        results = [line[len("RESULT "):] for line in completed.stdout.splitlines()
                   if line.startswith("RESULT ")]
        if completed.returncode != 0 or not results:
            print(f"{name}: child failed (exit {completed.returncode})\n"
                  f"{completed.stderr[-3000:]}")
            verdicts.append("FAIL")
            continue
        text, verdict = report(json.loads(results[0]))
        print(text + "\n", flush=True)
        verdicts.append(verdict)
    return 0 if all(v == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
