"""Every script in ``examples/`` runs headless in smoke mode and writes its figures.

Each script runs in a subprocess with ``MPLBACKEND=Agg``, ``GDESTIMATORS_SMOKE=1``
(small data, few iterations), this checkout first on ``PYTHONPATH`` and
``--out`` naming a temporary folder, from another temporary folder as the
current directory; the test checks the exit status, that every figure the
script is declared to write below exists and is not empty, and that nothing
was written to the current directory. A new example must be declared in
``EXPECTED_FIGURES``. ``docs/check_gallery_figures.py`` reads the same
declaration to check the documentation's gallery.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: Figures each example must write (file names under GDESTIMATORS_EXAMPLES_OUT).
EXPECTED_FIGURES = {
    "quickstart.py": [],
    "plot_note_step_by_step.py": ["plot_note_step_by_step.png"],
    "plot_convergence.py": [
        "plot_convergence_linear.png",
        "plot_convergence_logistic.png",
    ],
    "plot_learning_rate.py": ["plot_learning_rate.png"],
    "plot_pipeline_grid_search.py": ["plot_pipeline_grid_search.png"],
    # dask is in the test extra; torch is optional (a SKIP line without it).
    "plot_gpu_and_dask.py": ["plot_gpu_and_dask.png"],
}
#: Figures an example may write in addition (then they must not be empty).
OPTIONAL_FIGURES = {}
#: Text that must not appear in an example's standard error.
FORBIDDEN_STDERR = {
    # Dask warns when a task graph embeds large data; the example scatters it.
    "plot_gpu_and_dask.py": ["Sending large graph"],
}
#: What the test itself writes to each script's current directory.
OWN_FILES = {"stdout.txt", "stderr.txt", "figures"}

SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py"))
# Each script takes seconds in smoke mode; this only guards against a hang.
TIMEOUT_S = 300


def _environment():
    env = dict(os.environ)
    env.pop("GDESTIMATORS_EXAMPLES_OUT", None)
    env.update(
        MPLBACKEND="Agg",
        GDESTIMATORS_SMOKE="1",
        PYTHONWARNINGS="default",
        # This checkout's package, not whichever one is installed (dask's
        # worker processes inherit it too).
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    # The examples' arrays are small: BLAS threads only add start-up and,
    # on a busy machine, oversubscription (which can slow L-BFGS 100-fold).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    return env


def test_every_example_is_declared():
    undeclared = sorted(set(SCRIPTS) - set(EXPECTED_FIGURES))
    assert not undeclared, (
        f"declare the figures of {undeclared} in EXPECTED_FIGURES of {__file__}"
    )
    missing = sorted(set(EXPECTED_FIGURES) - set(SCRIPTS))
    assert not missing, f"declared examples not found in {EXAMPLES}: {missing}"


@pytest.fixture(scope="module")
def started_examples(request, tmp_path_factory):
    """Start the selected examples all at once; they are independent.

    Each runs single-threaded, so running them side by side keeps the module
    well under a minute on a two-core machine. Output goes to files (a full
    pipe would block a script). Returns ``{script: (process, folder, start)}``.
    """
    selected = sorted({
        item.callspec.params["script"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "script" in getattr(getattr(item, "callspec", None), "params", {})
    })
    started = {}
    for script in selected:
        folder = tmp_path_factory.mktemp(Path(script).stem)
        with open(folder / "stdout.txt", "w") as stdout, \
                open(folder / "stderr.txt", "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(EXAMPLES / script), "--out", str(folder / "figures")],
                cwd=folder, env=_environment(),
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            )
        started[script] = (process, folder, time.perf_counter())
    yield started
    for process, _, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figures(script, started_examples):
    if script not in EXPECTED_FIGURES:
        pytest.fail(f"declare the figures of {script} in EXPECTED_FIGURES")
    process, folder, start = started_examples[script]
    try:
        returncode = process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{script} did not finish within {TIMEOUT_S} s")
    elapsed = time.perf_counter() - start
    stdout = (folder / "stdout.txt").read_text()
    stderr = (folder / "stderr.txt").read_text()
    report = (
        f"{script} exited with {returncode}; waited {elapsed:.1f} s for it (it "
        f"ran side by side with the other examples)\n"
        f"--- stdout (end) ---\n{stdout[-3000:]}\n"
        f"--- stderr (end) ---\n{stderr[-3000:]}"
    )
    assert returncode == 0, report
    out = folder / "figures"
    for name in EXPECTED_FIGURES[script]:
        figure = out / name
        assert figure.is_file(), f"{script} did not write {name}\n{report}"
        assert figure.stat().st_size > 0, f"{script} wrote an empty {name}"
    allowed = set(EXPECTED_FIGURES[script]) | set(OPTIONAL_FIGURES.get(script, []))
    written = {path.name for path in out.glob("*")} if out.exists() else set()
    unexpected = written - allowed
    assert not unexpected, f"{script} wrote undeclared files {sorted(unexpected)}"
    for name in written:
        assert (out / name).stat().st_size > 0, f"{script} wrote an empty {name}"
    left_behind = {path.name for path in folder.iterdir()} - OWN_FILES
    assert not left_behind, (
        f"{script} wrote {sorted(left_behind)} to the current directory\n{report}"
    )
    for text in FORBIDDEN_STDERR.get(script, []):
        assert text not in stderr, f"{script} printed {text!r}\n{report}"


def test_figures_go_next_to_the_script_by_default(tmp_path):
    """Without ``--out`` or the variable, a copy of a script writes beside itself."""
    script = "plot_learning_rate.py"
    copy = tmp_path / "copy" / script
    copy.parent.mkdir()
    shutil.copy(EXAMPLES / script, copy)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, str(copy)], cwd=cwd, env=_environment(),
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in copy.parent.iterdir()) == sorted(
        [script, *EXPECTED_FIGURES[script]]
    )
    assert not list(cwd.iterdir())
