"""``solver="auto"``: Barzilai–Borwein steps first, curvature when they crawl.

The choice rests on what one iteration of each method costs, in passes over
the data, and on how many iterations it needs:

* a Barzilai–Borwein iteration costs one pass; on well-conditioned problems
  (after the change of variables) it converges in tens of iterations;
* a Newton iteration costs a Hessian, ``problem.hessian_cost`` passes
  (its flops, ``m p^2`` per pair of coupled outputs, against the memory
  traffic of a pass), and converges in a handful of iterations whatever the
  conditioning: large ``C``, nearly separable classes, a spread of sample
  curvatures ``a (1 - a)`` that no change of variables removes;
* L-BFGS costs a pass per iteration and builds curvature from gradients,
  for problems whose Hessian is too large to form.

So: BB where the change of variables has made the Hessian the identity
(least squares with the full change of variables: its first step of 1 is
Newton's); Newton from the start where a Hessian costs little (in
absolute terms, or against a pass) (few features, or
sparse rows), or where the objective has an L1 part (proximal Newton solves
its model by coordinate descent without further passes: for least squares
that is the whole fit); otherwise BB, handing over to Newton (or to L-BFGS,
where the Hessian is too large) once BB has spent as many passes as Newton
would need to finish.
"""

from ._barzilai_borwein import barzilai_borwein
from ._common import SolverResult
from ._newton import newton

#: Most coordinates (``(n_features + 1) * k``) for which Newton's method is
#: used: its host solve costs ``size^3 / 3`` flops.
MAX_NEWTON_SIZE = 2048
#: Newton runs from the start when a Hessian costs at most this many passes:
#: only the fixed overheads of its blocks (few coordinates).
NEWTON_FIRST_COST = 6.0
#: Newton runs from the start when a Hessian takes at most this many
#: multiply-adds (a few milliseconds): on small data the per-iteration
#: overheads of any solver dominate, and Newton needs the fewest iterations.
SMALL_HESSIAN_FLOPS = 2e7
#: Newton iterations budgeted to finish a fit (it converges quadratically).
NEWTON_ITERATIONS = 8
#: BB iterations before a hand-over, at the least.
MIN_PATIENCE = 20


def auto(problem, theta, *, learning_rate, max_iter, tol, log):
    """Choose among bb, newton and lbfgs by cost, and hand over when BB crawls.

    Returns the :class:`SolverResult` of the last solver run, with
    ``solvers`` naming every solver that ran and ``reason`` why.
    """
    size = problem.n_coordinates
    affordable = size <= MAX_NEWTON_SIZE and problem.second_order is not None
    cost = problem.hessian_cost
    if problem.identity_hessian and not problem.penalty.has_l1:
        # BB's first step of 1 is then the Newton step, without a Hessian.
        reason = "BB: the change of variables made the Hessian the identity"
        return _run([("bb", barzilai_borwein, max_iter)], problem, theta, learning_rate,
                    max_iter, tol, log, reason)
    small = problem.hessian_flops <= SMALL_HESSIAN_FLOPS
    if affordable and (problem.penalty.has_l1 or cost <= NEWTON_FIRST_COST or small):
        if problem.penalty.has_l1:
            reason = ("proximal Newton: the L1 model is solved by coordinate descent "
                      "without further passes over X")
        elif small:
            reason = (f"Newton: a Hessian takes {problem.hessian_flops:.1e} multiply-adds, "
                      "less than the overheads of a few iterations")
        else:
            reason = f"Newton: a Hessian costs about {cost:.1f} passes over X"
        return _run([("newton", newton)], problem, theta, learning_rate, max_iter, tol,
                    log, reason)
    if affordable:
        patience = max(MIN_PATIENCE, int(NEWTON_ITERATIONS * cost))
        second = ("newton", newton)
        reason = (f"BB, then Newton after {patience} iterations (a Hessian costs about "
                  f"{cost:.0f} passes over X)")
    else:
        from . import SOLVERS  # the registry imports this module

        lbfgs = SOLVERS.get("lbfgs")
        patience = max_iter if lbfgs is None or problem.penalty.has_l1 else 10 * MIN_PATIENCE
        second = None if patience >= max_iter else ("lbfgs", lbfgs)
        reason = (f"BB (a Hessian of {size} coordinates is too large to form)"
                  + ("" if second is None else f", then L-BFGS after {patience} iterations"))
    stages = [("bb", barzilai_borwein, patience)] + ([second] if second else [])
    return _run(stages, problem, theta, learning_rate, max_iter, tol, log, reason)


def _run(stages, problem, theta, learning_rate, max_iter, tol, log, reason):
    """Run the solvers of ``stages`` in turn, each from where the last stopped."""
    log.note(f"solver='auto': {reason}")
    ran = []
    result = None
    for index, stage in enumerate(stages):
        name, solver = stage[0], stage[1]
        last = index == len(stages) - 1
        budget = max_iter - log.offset if last else min(stage[2], max_iter - log.offset)
        if budget <= 0 and ran:
            break
        if ran:
            log.note(f"handing over to {name} after {log.offset} iterations")
        ran.append(name)
        result = solver(
            problem, theta, learning_rate=learning_rate if index == 0 else "auto",
            max_iter=budget, tol=tol, log=log,
        )
        log.offset = len(log.objective_curve)
        theta = result.theta
        if result.converged:
            break
    return SolverResult(
        result.theta, len(log.objective_curve), result.converged, result.gap,
        log.objective_curve, result.stalled, result.certificate, result.relative_gap,
        solvers=ran, reason=reason,
    )
