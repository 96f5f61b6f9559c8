"""The (fold, penalty) grid of a cross-validation, and how it is walked.

Models are ordered penalty-major: group ``g`` (one penalty: one ``l1_ratio``
and one ``C`` or ``alpha``) holds the models of every fold, ``g * n_folds +
fold``, so that each group's columns are contiguous (one rotation product
per group, :mod:`._batched_problem`).

Two ways of walking the grid share the same solver:

* ``"batch"``: every model starts cold, and all run together; a pass over
  ``X`` serves all ``n_folds * n_penalties`` columns;
* ``"path"``: the penalties are taken one at a time, strongest first, each
  model warm-started from its fold's solution at the previous penalty (what
  scikit-learn's ``LogisticRegressionCV`` and ``ElasticNetCV`` do); a pass
  then serves ``n_folds * n_l1_ratios`` columns.

:data:`STRATEGY` is the one measured faster (``benchmarks/cv.py``,
``benchmarks/results_cv.md``).
"""

import numpy as np

from ._batched_problem import ModelGrid

#: How the grid is walked by default; chosen by ``benchmarks/cv.py``.
STRATEGY = "batch"


def model_grid(n_folds, penalties, l1_ratios, fold_totals, full_total, strengths,
               output_scale=1.0):
    """The :class:`ModelGrid` of ``n_folds`` folds times each (l1_ratio, penalty).

    Parameters
    ----------
    n_folds : int
    penalties : ndarray of shape (n_penalties,) or (n_l1_ratios, n_penalties)
        ``C`` or ``alpha`` values, the same or one row per ``l1_ratio``.
    l1_ratios : ndarray of shape (n_l1_ratios,)
    fold_totals : ndarray of shape (n_folds,)
        Total training weight of each fold.
    full_total : float
        Total weight of the full data (for the groups' change of variables).
    strengths : callable
        ``(penalty, total_weight) -> overall strength`` in the mean form:
        ``1 / (C S)`` for logistic regression, ``alpha`` for least squares.
    output_scale : float, default=1.0
        The L1 strength is divided by it (the targets were).

    Returns
    -------
    grid : ModelGrid
    """
    folds, groups, l2, l1 = [], [], [], []
    group_l2, group_l1 = [], []
    penalties = np.broadcast_to(penalties, (len(l1_ratios), np.shape(penalties)[-1]))
    for l1_ratio, row in zip(l1_ratios, penalties, strict=True):
        for penalty in row:
            group = len(group_l2)
            full = strengths(penalty, full_total)
            group_l2.append(full * (1.0 - l1_ratio))
            group_l1.append(full * l1_ratio / output_scale)
            for fold in range(n_folds):
                strength = strengths(penalty, fold_totals[fold])
                folds.append(fold)
                groups.append(group)
                l2.append(strength * (1.0 - l1_ratio))
                l1.append(strength * l1_ratio / output_scale)
    return ModelGrid(
        np.asarray(folds), np.asarray(groups), np.asarray(l2, dtype=float),
        np.asarray(l1, dtype=float),
        np.asarray(group_l2, dtype=float), np.asarray(group_l1, dtype=float),
    )


def stages(strategy, n_folds, n_penalties, n_l1_ratios, strongest_first):
    """The grid positions solved together, stage by stage, and the warm starts.

    Parameters
    ----------
    strategy : {"batch", "path"}
    n_folds, n_penalties, n_l1_ratios : int
    strongest_first : ndarray of int of shape (n_penalties,)
        Penalty indices from the strongest penalty to the weakest.

    Returns
    -------
    indices_by_stage : list of ndarray of int
    warm_from : callable or None
        ``stage -> grid positions`` starting that stage's models.
    """
    n_models = n_folds * n_penalties * n_l1_ratios
    if strategy == "batch":
        return [np.arange(n_models)], None

    def positions(penalty):
        return np.asarray([
            (l1 * n_penalties + penalty) * n_folds + fold
            for l1 in range(n_l1_ratios) for fold in range(n_folds)
        ])

    indices = [positions(penalty) for penalty in strongest_first]

    def warm_from(stage):
        return None if stage == 0 else indices[stage - 1]

    return indices, warm_from


def per_model(values, n_folds, n_penalties, n_l1_ratios):
    """Grid-ordered values as ``(n_folds, n_l1_ratios, n_penalties, ...)``."""
    values = np.asarray(values)
    shaped = values.reshape((n_l1_ratios, n_penalties, n_folds) + values.shape[1:])
    return np.moveaxis(shaped, 2, 0)


def best_penalty(scores):
    """Index ``(penalty, l1_ratio)`` of the best mean score over folds.

    ``scores`` has shape ``(n_folds, n_l1_ratios, n_penalties)``. Ties go to
    the first in ``GridSearchCV``'s order over ``{"C" or "alpha", "l1_ratio"}``
    (the penalty varies slowest), so that both choose the same.
    """
    mean = np.mean(scores, axis=0).T  # (n_penalties, n_l1_ratios)
    flat = int(np.argmax(mean))
    return np.unravel_index(flat, mean.shape)
