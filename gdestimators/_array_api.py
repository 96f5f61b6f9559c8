"""The one module that touches scikit-learn's private array-API helpers.

Everything else asks this module for the namespace ``xp`` of its arrays and
writes its math once, with ``xp.*`` functions, so that numpy, scipy.sparse,
array_api_strict, torch (CPU or CUDA) and cupy arrays flow through the same
lines. Host synchronisations (reading scalars) go through :func:`to_float`
and :func:`read_scalars`; the solver loops read everything an iteration
needs with one call of the latter.

Dask collections are not an array namespace here: their chunks are numpy
arrays, everything fitted from them (coefficients, preconditioner) lives on
the host in numpy, and only :mod:`._dask` touches the chunks.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.externals.array_api_compat import device as array_device
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _max_precision_float_dtype,
    check_same_namespace,
    get_namespace,
    get_namespace_and_device,
    move_to,
)

__all__ = [
    "array_device",
    "check_same_namespace",
    "from_numpy",
    "get_namespace_and_device",
    "is_dask_collection",
    "move_to",
    "namespace",
    "numpy_float_dtype",
    "precision_float_dtype",
    "read_scalars",
    "to_float",
    "to_numpy",
]


def is_dask_collection(obj):
    """Whether ``obj`` is a dask array or data frame (without importing dask)."""
    return (
        type(obj).__module__.split(".")[0] == "dask"
        and hasattr(obj, "__dask_graph__")
    )


def namespace(*arrays):
    """The array namespace of ``arrays``; numpy's for scipy.sparse and dask.

    As scikit-learn decides it: numpy's unless ``array_api_dispatch`` is on,
    in which case inputs were not converted to numpy by validation.
    """
    dense = [
        a for a in arrays
        if a is not None and not sp.issparse(a) and not is_dask_collection(a)
    ]
    return get_namespace(*dense)[0] if dense else get_namespace(np.zeros(0))[0]


def to_float(scalar):
    """A Python float from a 0-d array of any namespace (a host round trip)."""
    return float(scalar)


def read_scalars(*scalars):
    """Python floats of 0-d arrays (and numbers), with one host transfer.

    Device scalars are stacked into one array and copied to the host
    together, so that an iteration that needs several scalars (objective,
    inner products, stop test) waits for the device once, not once each.
    """
    on_host = (int, float, np.generic, np.ndarray)
    on_device = [value for value in scalars if not isinstance(value, on_host)]
    if not on_device:
        return [float(value) for value in scalars]
    xp = namespace(*on_device)
    host = iter(to_numpy(xp.stack([xp.reshape(value, ()) for value in on_device])).tolist())
    return [float(value) if isinstance(value, on_host) else next(host) for value in scalars]


def to_numpy(array):
    """A numpy copy (or view) of an array of any namespace, on the host."""
    if isinstance(array, np.ndarray):
        return array
    if is_dask_collection(array):
        return np.asarray(array.compute())
    return _convert_to_numpy(array, xp=namespace(array))


def from_numpy(array, like):
    """``array`` (numpy) moved to the namespace and device of ``like``."""
    if sp.issparse(like) or isinstance(like, np.ndarray) or is_dask_collection(like):
        return np.asarray(array)
    xp = namespace(like)
    return xp.asarray(array, device=array_device(like))


def numpy_float_dtype(array):
    """The numpy dtype (float32 or float64) matching a float array of any namespace."""
    if isinstance(array, np.ndarray) or sp.issparse(array) or is_dask_collection(array):
        return np.dtype(array.dtype)
    return np.dtype(np.float32) if array.dtype == namespace(array).float32 else np.dtype(np.float64)


def precision_float_dtype(xp, device):
    """The most precise float dtype available on ``device`` (float32 on MPS)."""
    return _max_precision_float_dtype(xp, device)
