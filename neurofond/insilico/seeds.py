"""Between-seed spread of in-silico properties: training seeds as "animals".

Models trained with the same recipe and different seeds differ like animals of one species
do. A property measured on each (the V1 survey's medians, fractions and means:
:func:`neurofond.insilico.survey.run_survey`) is reported as the mean over seeds with the
between-seed standard deviation (``ddof=1``) and range, the way between-animal variability is
reported next to a population median in physiology papers.

Torch-free: it reads the ``survey.json`` dictionary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["flatten_measures", "between_seed_spread", "spread_rows"]


def flatten_measures(measures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Scalar leaves of a survey source's ``measures`` as ``{"a.b.c": value}``.

    Lists, strings, booleans and None are left out (per-neuron arrays, notes and flags are
    not between-seed statistics); NaN values are kept (a measure a seed could not give).
    """
    flat: dict[str, float] = {}
    for key, value in measures.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_measures(value, prefix=f"{path}."))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            flat[path] = float(value)
    return flat


def between_seed_spread(survey: Mapping[str, Any], sources: Sequence[str],
                        ) -> dict[str, dict[str, Any]]:
    """Mean, between-seed SD and range of every scalar survey measure over ``sources``.

    Parameters
    ----------
    survey : mapping
        A survey result (``survey.json`` as a dict), with ``survey["sources"][name]
        ["measures"]``.
    sources : sequence of str
        The seeds of one recipe (source names in the survey), at least two.

    Returns
    -------
    dict
        ``{measure path: {"mean", "sd", "min", "max", "n", "values"}}`` for every scalar
        measure present in all ``sources``; ``sd`` is the sample standard deviation over seeds
        (``ddof=1``); a seed with NaN for a measure leaves that measure's statistics over the
        other seeds, with ``n`` saying how many. Measures missing from a seed are left out
        and listed under the key ``"_missing"``.

    Raises
    ------
    ValueError
        Fewer than two sources, or a name not in the survey.
    """
    names = list(sources)
    if len(names) < 2:
        raise ValueError(f"sources: need at least two seeds for a spread, got {names}")
    known = survey.get("sources", {})
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"sources: {unknown} not in the survey; it has {sorted(known)}")
    flats = [flatten_measures(known[n]["measures"]) for n in names]
    common = set.intersection(*(set(f) for f in flats))
    missing = sorted(set.union(*(set(f) for f in flats)) - common)
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(common):
        values = [f[path] for f in flats]
        finite = [v for v in values if math.isfinite(v)]
        n = len(finite)
        mean = sum(finite) / n if n else math.nan
        sd = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan)
        out[path] = {"mean": mean, "sd": sd, "min": min(finite) if n else math.nan,
                     "max": max(finite) if n else math.nan, "n": n, "values": values}
    if missing:
        out["_missing"] = {"paths": missing}
    return out


def spread_rows(spread: Mapping[str, Mapping[str, Any]], paths: Sequence[str],
                digits: int = 3) -> list[str]:
    """Markdown rows ``| measure | mean +/- SD (min-max, n seeds) |`` for the chosen paths."""
    rows = ["| measure | mean +/- between-seed SD (range; seeds) |", "|---|---|"]
    for path in paths:
        if path not in spread:
            raise ValueError(f"paths: {path!r} is not in the spread; it has "
                             f"{sorted(k for k in spread if not k.startswith('_'))[:20]} ...")
        s = spread[path]
        rows.append(f"| {path} | {s['mean']:.{digits}f} +/- {s['sd']:.{digits}f} "
                    f"({s['min']:.{digits}f}-{s['max']:.{digits}f}; {s['n']}) |")
    return rows
