"""Assertions shared by the test modules (on the path through pytest's ``pythonpath``)."""

import numpy as np

RTOL = 1e-6


def assert_close(actual, desired, rtol=RTOL, what="coefficients"):
    """``max|actual - desired| <= rtol * max(1, max|desired|)``, all finite."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    assert np.all(np.isfinite(actual)), f"non-finite {what}: {actual}"
    scale = max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    error = float(np.max(np.abs(actual - desired), initial=0.0))
    assert error <= rtol * scale, (
        f"{what} differ by {error:.3g} (allowed {rtol * scale:.3g})\n"
        f"actual:  {actual}\ndesired: {desired}"
    )
