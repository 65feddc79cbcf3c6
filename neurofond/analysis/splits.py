"""Train/test splits over conditions (stimuli), Brain-Score style.

Splits are always drawn over **conditions** (stimuli): all repeats of one stimulus fall on
the same side of a split, so a model is never tested on a stimulus whose other repeats it
was trained on. :func:`condition_splits` gives the condition indices of each split (the
splits of Brain-Score's ``CrossValidation`` with ``random_state=1``);
:class:`ConditionSplitter` is the scikit-learn splitter over sample indices.

References
----------
Schrimpf M, Kubilius J, Hong H, et al. (2018) Brain-Score: which artificial neural network
for object recognition is most brain-like? bioRxiv 407007.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond._checks import check_int, check_seed

__all__ = ["condition_splits", "ConditionSplitter"]


def _condition_codes(conditions: Any, n_samples: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per sample and the condition labels, in order of first appearance."""
    if conditions is None:
        return np.arange(n_samples), np.arange(n_samples)
    if isinstance(conditions, xr.DataArray):
        conditions = conditions.values
    labels = np.asarray(conditions)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"{name}: expected one condition label per sample ({n_samples}), got shape "
            f"{labels.shape}"
        )
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError(f"{name}: contains NaN labels")
    uniq, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()], uniq[order]



def condition_splits(
    n_conditions: int,
    n_splits: int = 10,
    test_size: float | int = 0.1,
    seed: int | None = 1,
    stratify: Sequence[Any] | np.ndarray | None = None,
    *,
    kfold: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test splits over conditions (stimuli), Brain-Score style.

    Parameters
    ----------
    n_conditions : int
        Number of conditions (distinct stimuli), >= 2.
    n_splits : int
        Number of splits (default 10, Brain-Score's default).
    test_size : float or int
        Shuffle splits: fraction in (0, 1) of the conditions held out per split (default
        0.1), or their number. A fraction gives ``n_train = floor((1 - test_size) *
        n_conditions)`` training conditions and the rest for testing, the convention of
        Brain-Score's ``train_size=0.9``. Ignored with ``kfold=True``.
    seed : int or None
        Random state (default 1, Brain-Score's ``random_state``). None draws fresh splits.
    stratify : sequence, optional
        One label per condition; splits then keep the label proportions
        (``StratifiedShuffleSplit`` / ``StratifiedKFold``, Brain-Score's
        ``stratification_coord``).
    kfold : bool
        K-fold partition (every condition tested exactly once; ``KFold(shuffle=True)``)
        instead of independent shuffle splits.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(train, test)`` condition indices per split, each sorted ascending; disjoint.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).

    Notes
    -----
    The splits are those of scikit-learn's ``ShuffleSplit(n_splits,
    train_size=1 - test_size, random_state=seed)`` (``StratifiedShuffleSplit``, ``KFold`` or
    ``StratifiedKFold`` where asked) over ``range(n_conditions)``. With ``seed=1``,
    ``test_size=0.1`` and the conditions in the order of the target assembly's
    ``stimulus_id`` values, they are the splits of Brain-Score's ``CrossValidation``
    (``brainscore_vision.metric_helpers.transformations.Split``) with
    ``stratification_coord=None``, so scores computed on them can be compared split by
    split.
    """
    n = check_int(n_conditions, "n_conditions", 2)
    n_splits = check_int(n_splits, "n_splits", 2 if kfold else 1)
    seed = check_seed(seed)
    labels = None
    if stratify is not None:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"stratify: expected one label per condition ({n}), got shape {labels.shape}"
            )
    from sklearn import model_selection as ms

    if kfold:
        if n_splits > n:
            raise ValueError(f"n_splits: {n_splits} folds for only {n} conditions")
        if labels is None:
            splitter = ms.KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        else:
            splitter = ms.StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train_size: float | int | None = None
    else:
        if isinstance(test_size, bool) or not isinstance(
            test_size, (int, float, np.integer, np.floating)
        ):
            raise ValueError(f"test_size: expected a fraction or a count, got {test_size!r}")
        if isinstance(test_size, (int, np.integer)):
            if not 1 <= test_size < n:
                raise ValueError(f"test_size: expected 1 <= test_size < {n}, got {test_size}")
            train_size = n - int(test_size)
        else:
            if not 0.0 < float(test_size) < 1.0:
                raise ValueError(f"test_size: expected a fraction in (0, 1), got {test_size}")
            train_size = 1.0 - float(test_size)
            n_train = math.floor(train_size * n)
            if n_train < 1 or n_train >= n:
                raise ValueError(
                    f"test_size: {test_size} leaves {n_train} training conditions of {n}"
                )
        kwargs = dict(n_splits=n_splits, train_size=train_size, test_size=None, random_state=seed)
        splitter = (
            ms.ShuffleSplit(**kwargs) if labels is None else ms.StratifiedShuffleSplit(**kwargs)
        )
    args = (np.zeros(n),) if labels is None else (np.zeros(n), labels)
    try:
        splits = list(splitter.split(*args))
    except ValueError as err:  # e.g. a stratum with a single member
        raise ValueError(f"stratify: {err}") from err
    return [(np.sort(tr), np.sort(te)) for tr, te in splits]


class ConditionSplitter:
    """Scikit-learn style cross-validation splitter over conditions.

    ``split(X, y, groups)`` yields sample indices; ``groups`` are the condition labels of the
    samples, so repeats of one condition never fall into both the training and the test
    set. Usable as ``cv=`` in :func:`sklearn.model_selection.cross_val_score`.

    Parameters
    ----------
    n_splits, test_size, seed, kfold
        As in :func:`condition_splits`.

    Examples
    --------
    >>> splitter = ConditionSplitter(n_splits=3, test_size=0.25)
    >>> conditions = np.repeat(np.arange(8), 5)  # 8 stimuli x 5 repeats
    >>> for train, test in splitter.split(np.zeros((40, 2)), groups=conditions):
    ...     assert not set(conditions[train]) & set(conditions[test])
    """

    def __init__(
        self,
        n_splits: int = 10,
        test_size: float | int = 0.1,
        seed: int | None = 1,
        *,
        kfold: bool = False,
    ) -> None:
        self.n_splits = n_splits
        self.test_size = test_size
        self.seed = seed
        self.kfold = kfold

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits."""
        return check_int(self.n_splits, "n_splits", 1)

    def split(
        self, X: Any, y: Any = None, groups: Any = None, stratify: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` sample indices.

        Parameters
        ----------
        X : array-like, shape (n_samples, ...)
            Only its length is used.
        y : ignored
        groups : array-like, shape (n_samples,), optional
            Condition label of every sample; default: every sample is its own condition.
        stratify : array-like, optional
            One label per condition (in order of first appearance in ``groups``) or per
            sample (constant within a condition).
        """
        n_samples = len(X)
        codes, labels = _condition_codes(groups, n_samples, "groups")
        strat = _stratify_per_condition(stratify, codes, labels.size)
        for train_c, test_c in condition_splits(
            labels.size, self.n_splits, self.test_size, self.seed, strat, kfold=self.kfold
        ):
            train = np.flatnonzero(np.isin(codes, train_c))
            test = np.flatnonzero(np.isin(codes, test_c))
            yield train, test

    def __repr__(self) -> str:
        return (
            f"ConditionSplitter(n_splits={self.n_splits}, test_size={self.test_size}, "
            f"seed={self.seed}, kfold={self.kfold})"
        )


def _stratify_per_condition(stratify: Any, codes: np.ndarray, n_conditions: int):
    if stratify is None:
        return None
    labels = np.asarray(stratify.values if isinstance(stratify, xr.DataArray) else stratify)
    if labels.ndim != 1:
        raise ValueError(f"stratify: expected a 1-D array of labels, got shape {labels.shape}")
    if labels.shape[0] == n_conditions:
        return labels
    if labels.shape[0] == codes.size:
        per = np.empty(n_conditions, dtype=labels.dtype)
        per[codes] = labels
        if not np.array_equal(per[codes], labels):
            raise ValueError("stratify: labels differ between repeats of one condition")
        return per
    raise ValueError(
        f"stratify: expected {n_conditions} labels (one per condition) or {codes.size} (one per "
        f"sample), got {labels.shape[0]}"
    )
