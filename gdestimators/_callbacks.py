"""Feed scikit-learn's callback API (``set_callbacks``) from the solvers' iterations.

scikit-learn 1.9 models a fit as a task with one subtask per iteration: each
subtask is opened (``on_fit_task_begin``) and closed (``on_fit_task_end``) with
the attributes that make a usable estimator at that point, so that
``ProgressBar`` advances per iteration and ``ScoringMonitor`` can score the
model as it trains (``ProgressBar`` draws with ``rich``: ``pip install -e
".[progress]"`` from a checkout). The solvers know nothing of this: they call
an observer with their current parameters, and this bridge turns that into
hooks.
"""


class IterationCallbacks:
    """Open and close one callback subtask per solver iteration.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The fit's root context.
    estimator : estimator instance
        The estimator being fitted.
    X, y : array-like
        Training data, handed to the hooks.
    metadata : dict or None
        Training metadata (sample weights), handed to the hooks.
    attributes : callable
        ``theta -> dict`` of the fitted attributes (``coef_``, ``intercept_``)
        at ``theta``; evaluated lazily, only by callbacks that need them.
    """

    def __init__(self, context, estimator, X, y, metadata, attributes):
        self._context = context
        self._hook_arguments = dict(estimator=estimator, X=X, y=y, metadata=metadata)
        self._attributes = attributes
        self._iteration_context = None

    def begin(self, theta):
        """Open the first iteration's subtask at the initial parameters."""
        self._iteration_context = self._open(theta)

    def __call__(self, theta):
        """Close the iteration that just ended and open the next one."""
        self._iteration_context.call_on_fit_task_end(
            **self._hook_arguments,
            reconstruction_attributes=lambda: self._attributes(theta),
        )
        self._iteration_context = self._open(theta)

    def close(self):
        """Close the subtask opened after the last iteration, which never ran."""
        self._iteration_context.call_on_fit_task_end(
            estimator=self._hook_arguments["estimator"]
        )

    def _open(self, theta):
        context = self._context.subcontext(task_name="iteration")
        context.call_on_fit_task_begin(
            **self._hook_arguments,
            reconstruction_attributes=lambda: self._attributes(theta),
        )
        return context
