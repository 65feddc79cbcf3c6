"""Distribution similarity of single-neuron properties (Brain-Score Marques2020 style).

Compares the distribution of a property (circular variance, peak SF, modulation ratio ...)
over model neurons with its distribution over recorded neurons, on the data's histogram
bins, as the Brain-Score V1-property benchmarks do (Marques, Schrimpf & DiCarlo 2021).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import _provenance

__all__ = ["ks_similarity", "ks_similarity_bootstrap"]


def _values(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x.values if isinstance(x, xr.DataArray) else x, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError(f"{name}: no finite value (NaN entries are ignored)")
    return arr


def _bins(bins: Any) -> np.ndarray:
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 3:
        raise ValueError("bins: expected at least 3 bin edges (2 bins)")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bins: edges must be finite and strictly increasing")
    return edges


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram bin of each value by numpy.histogram rules, shifted by one for underflow.

    Bins are half-open ``[e_k, e_k+1)`` except the last, which includes its right edge.
    Values below ``edges[0]`` get index 0 (underflow), values in bin ``k`` get ``k + 1``,
    values above ``edges[-1]`` get ``n_bins + 1`` (overflow): they are never moved into
    the edge bins.
    """
    nb = edges.size - 1
    idx = np.searchsorted(edges, values, side="right")  # 0 below, 1..nb inside, nb+1 above
    idx[values == edges[-1]] = nb  # numpy.histogram: the last bin is closed on the right
    return idx


def _hists(idx: np.ndarray, n_bins: int) -> np.ndarray:
    """Normalised histograms of each row of bin indices ``idx`` (rows, n)."""
    rows = idx.shape[0]
    flat = (np.arange(rows)[:, None] * n_bins + idx).ravel()
    counts = np.bincount(flat, minlength=rows * n_bins).reshape(rows, n_bins).astype(float)
    return counts / counts.sum(axis=1, keepdims=True)


def _ks_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """1 - KS / KS_max of histograms ``p`` (rows, bins) against the reference ``q`` (bins).

    ``p`` and ``q`` have an underflow column first and an overflow column last (see
    :func:`_bin_index`); KS_max is that of all mass in the first or the last real bin.
    The result is clipped at 0 (reached only with values outside the bins).
    """
    cq = np.cumsum(q)
    raw = np.max(np.abs(np.cumsum(p, axis=-1) - cq), axis=-1)
    z1 = np.zeros_like(q)
    z1[1] = 1.0
    z2 = np.zeros_like(q)
    z2[-2] = 1.0
    ks_max = max(np.max(np.abs(np.cumsum(z1) - cq)), np.max(np.abs(np.cumsum(z2) - cq)))
    return np.maximum(1.0 - raw / ks_max, 0.0)


def ks_similarity(
    model_values: Sequence[float] | np.ndarray,
    data_values: Sequence[float] | np.ndarray,
    bins: Sequence[float] | np.ndarray,
) -> float:
    """Similarity of two distributions: 1 - KS / KS_max on the data's histogram bins.

    Parameters
    ----------
    model_values : array_like
        Property values of model neurons. NaN entries (undefined property) are ignored.
    data_values : array_like
        Property values of recorded neurons (the reference distribution).
    bins : array_like
        Histogram bin edges (strictly increasing, >= 3 edges), usually those published with
        the data. Binning follows :func:`numpy.histogram` (half-open bins, the last one
        closed): values outside the edges fall in no bin. They are not clipped into the
        edge bins but kept as mass below the first / above the last edge, so a sample
        lying outside the bins differs from one inside them (disjoint samples score 0).

    Returns
    -------
    float
        Similarity in [0, 1]; 1 for identical histograms (including the mass outside the
        bins).

    Raises
    ------
    ValueError
        If ``bins`` is not a valid edge vector or a value set has no finite entry.

    Notes
    -----
    With normalised histograms :math:`p` (model) and :math:`q` (data) and cumulative sums
    :math:`P, Q`: :math:`KS = \\max_k |P_k - Q_k|`; :math:`KS_{max}` is the largest KS that
    any distribution can reach against :math:`q`, attained by all mass in the first or in
    the last bin. Similarity :math:`= 1 - KS / KS_{max}`. Same definition as
    ``brainscore_vision.metrics.distribution_similarity.ks_similarity`` (Marques et al.
    2021, bioRxiv 2021.03.01.433495) for values inside the bins. With values outside,
    :math:`p` and :math:`q` are normalised over all values and the cumulative sums
    start with the mass below the first edge; KS_max is unchanged (mass in the first or
    last bin) and a similarity below 0 is reported as 0. Brain-Score instead clips both
    value sets into the bin range (``BootstrapDistributionSimilarity``); to reproduce
    that, pass ``np.clip(values, bins[0], bins[-1])``.

    Examples
    --------
    >>> ks_similarity([0.1, 0.2, 0.7], [0.1, 0.2, 0.7], bins=[0, 0.5, 1.0])
    1.0
    """
    edges = _bins(bins)
    model = _values(model_values, "model_values")
    data = _values(data_values, "data_values")
    nb = edges.size + 1  # the bins plus underflow and overflow
    p = _hists(_bin_index(model, edges)[None, :], nb)
    q = _hists(_bin_index(data, edges)[None, :], nb)[0]
    return float(_ks_rows(p, q)[0])


def ks_similarity_bootstrap(
    model_values: Sequence[float] | np.ndarray,
    data_values: Sequence[float] | np.ndarray,
    bins: Sequence[float] | np.ndarray,
    *,
    n_bootstrap: int = 1000,
    seed: int | None = 0,
    ceiling: str = "bootstrap",
) -> xr.Dataset:
    """Bootstrapped distribution similarity with ceiling, as Brain-Score's V1 properties.

    Parameters
    ----------
    model_values, data_values, bins
        As in :func:`ks_similarity`.
    n_bootstrap : int
        Number of bootstrap samples (Brain-Score: 1000).
    seed : int or None
        Seed of :func:`numpy.random.default_rng`.
    ceiling : {"bootstrap", "split_half"}
        How the data are compared with themselves. ``"bootstrap"`` (default, as
        Brain-Score's ``NeuronalPropertyCeiling``): samples of as many values as recorded,
        drawn with replacement from the data, against the full data histogram.
        ``"split_half"``: random halves of the data against each other (a stricter
        ceiling: each half has only half the neurons).

    Returns
    -------
    xarray.Dataset
        Scalars ``score`` (= raw / ceiling), ``raw`` (mean similarity over bootstrap
        samples), ``error`` (SD over samples), ``ceiling``, ``ceiling_error``; per-sample
        ``raw_values`` and ``ceiling_values`` along ``bootstrap``; attrs give the sample
        sizes and provenance.

    Raises
    ------
    ValueError
        If ``bins`` or a value set is invalid, ``n_bootstrap`` < 1, ``ceiling`` is unknown,
        or ``"split_half"`` is requested with fewer than 2 data values.

    Notes
    -----
    Raw score: each bootstrap sample draws, with replacement, as many model values as there
    are (finite) recorded values, histograms them on ``bins`` and computes
    :func:`ks_similarity` against the histogram of all recorded values; the raw score is
    the mean over samples (Marques et al. 2021; ``BootstrapDistributionSimilarity``).
    Ceiling: the same statistic of the data against themselves (see ``ceiling``). Score
    = raw / ceiling. Unlike Brain-Score, NaN values are dropped before sampling (Brain-Score
    samples them and the histogram then ignores them); the two agree without NaN.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> data = rng.uniform(0, 1, 200)
    >>> ds = ks_similarity_bootstrap(rng.uniform(0, 1, 1000), data, np.linspace(0, 1, 11),
    ...                              n_bootstrap=200)
    >>> bool(ds["score"] > 0.8)
    True
    """
    edges = _bins(bins)
    model = _values(model_values, "model_values")
    data = _values(data_values, "data_values")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap: expected an integer >= 1, got {n_bootstrap!r}")
    if ceiling not in ("bootstrap", "split_half"):
        raise ValueError(f"ceiling: expected 'bootstrap' or 'split_half', got {ceiling!r}")
    n_bootstrap = int(n_bootstrap)
    nb = edges.size + 1  # the bins plus underflow and overflow (see _bin_index)
    rng = np.random.default_rng(seed)
    model_idx = _bin_index(model, edges)
    data_idx = _bin_index(data, edges)
    q = _hists(data_idx[None, :], nb)[0]
    n_data = data.size

    draws = rng.integers(0, model.size, size=(n_bootstrap, n_data))
    raw_values = _ks_rows(_hists(model_idx[draws], nb), q)
    if ceiling == "bootstrap":
        draws = rng.integers(0, n_data, size=(n_bootstrap, n_data))
        ceil_values = _ks_rows(_hists(data_idx[draws], nb), q)
    else:
        if n_data < 2:
            raise ValueError("data_values: split-half ceiling needs at least 2 values")
        half = n_data // 2
        perm = rng.permuted(np.broadcast_to(np.arange(n_data), (n_bootstrap, n_data)), axis=1)
        ha = _hists(data_idx[perm[:, :half]], nb)
        hb = _hists(data_idx[perm[:, half : 2 * half]], nb)
        ceil_values = np.array([_ks_rows(ha[i : i + 1], hb[i])[0] for i in range(n_bootstrap)])
    raw = float(np.mean(raw_values))
    ceil = float(np.mean(ceil_values))
    attrs = _provenance(
        "similarity.ks_similarity_bootstrap",
        None,
        n_bootstrap=n_bootstrap,
        seed=seed,
        ceiling_method=ceiling,
        bins=edges,
        n_model=int(model.size),
        n_data=int(n_data),
    )
    return xr.Dataset(
        {
            "score": ((), raw / ceil if ceil > 0 else np.nan),
            "raw": ((), raw),
            "error": ((), float(np.std(raw_values))),
            "ceiling": ((), ceil),
            "ceiling_error": ((), float(np.std(ceil_values))),
            "raw_values": ("bootstrap", raw_values),
            "ceiling_values": ("bootstrap", ceil_values),
        },
        attrs=attrs,
    )
