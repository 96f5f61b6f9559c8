"""The order of the examples in the gallery: from first steps to clusters."""

from pathlib import Path

ORDER = [
    "quickstart.py",
    "plot_note_step_by_step.py",
    "plot_learning_rate.py",
    "plot_convergence.py",
    "plot_pipeline_grid_search.py",
    "plot_gpu_and_dask.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery: the files of ``ORDER`` first, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "ExampleOrder"

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)
