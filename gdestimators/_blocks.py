"""Blocks of samples: how a pass over the data is cut into cache-sized pieces.

Every read of ``X`` that a fit makes (the cost and its gradient, the feature
moments, the Hessian) walks the samples in blocks small enough for one block
to stay in the CPU cache between the products that use it, so that each
evaluation streams ``X`` from memory once.
"""

import numpy as np
import scipy.sparse as sp

#: Bytes of X processed per block: small enough for the block to stay in the
#: CPU cache between the forward product and the gradient product.
BLOCK_BYTES = 2**21
#: Fewest samples in a block: below this, per-block overheads dominate.
MIN_BLOCK_SAMPLES = 256


def sample_blocks(XT):
    """Slices of columns (samples) of ``XT`` of about :data:`BLOCK_BYTES` each.

    Only numpy arrays are blocked: sparse matrices and device arrays are
    processed whole (``[slice(None)]``; slicing a sparse matrix would copy
    it, and a device runs one large product faster than many small ones).

    Parameters
    ----------
    XT : array or sparse matrix of shape (n_features, m)
        The data, one column per sample.

    Returns
    -------
    blocks : list of slice
        Consecutive slices covering ``range(m)``.
    """
    n_features, m = XT.shape
    if sp.issparse(XT) or not isinstance(XT, np.ndarray):
        return [slice(None)]
    step = max(MIN_BLOCK_SAMPLES, BLOCK_BYTES // max(1, n_features * XT.itemsize))
    if step >= m:
        return [slice(None)]
    return [slice(start, min(start + step, m)) for start in range(0, m, step)]
