"""Where and how a benchmark ran: the header lines of every report.

Timings mean little without the machine, its load, the BLAS threads and the
exact code that produced them, so each script writes these first.
"""

import datetime
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import scipy
import sklearn
import threadpoolctl

import gdestimators

REPO = Path(__file__).resolve().parent.parent


def git_state():
    """Short commit of the repository, and whether ``gdestimators/`` has local changes.

    Returns
    -------
    state : str
        ``"<commit>"``, ``"<commit> with uncommitted changes in gdestimators/"``
        or ``"unknown"`` when git cannot tell.
    """
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "gdestimators"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes in gdestimators/" if dirty else "")


def proc_field(path, key):
    """The value after ``key:`` on the first line of ``path`` that starts with ``key``.

    Parameters
    ----------
    path : str
        A ``/proc`` file of ``key: value`` lines, such as ``/proc/meminfo``.
    key : str
        The start of the line.

    Returns
    -------
    value : str
        The stripped value, or ``"unknown"`` when the file or line is missing.
    """
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _blas_summary():
    return "; ".join(
        f"{info['internal_api']} {info.get('version') or ''} ({info['num_threads']} threads)"
        for info in threadpoolctl.threadpool_info()
    )


def load_average():
    """The 1, 5 and 15 minute load averages, as ``"a, b, c"``."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def environment_lines(command, budget=None):
    """Machine, versions, date and command, as markdown list items.

    Parameters
    ----------
    command : str
        The command line that produced the report.
    budget : float, default=None
        Seconds one fit may take; no line for it when None.

    Returns
    -------
    lines : list of str
    """
    memory_kb = proc_field("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(memory_kb) / 2**20:.1f} GiB" if memory_kb.isdigit() else "unknown"
    lines = [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: nproc {len(os.sched_getaffinity(0))}, "
        f"{proc_field('/proc/cpuinfo', 'model name')}, {ram} RAM, {platform.platform()}",
        f"- load average at start (1, 5, 15 min): {load_average()}; timings are "
        "only comparable within a run on an otherwise idle machine",
        f"- BLAS / OpenMP: {_blas_summary()}",
    ]
    if budget is not None:
        lines.append(f"- time budget per fit: {budget:.0f} s")
    lines.append(
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"gdestimators {gdestimators.__version__} (git {git_state()})"
    )
    return lines
