"""Between-seed spread of survey measures (neurofond.insilico.seeds)."""

import math
import statistics

import pytest

from neurofond.insilico.seeds import between_seed_spread, flatten_measures, spread_rows


def _survey(values):
    return {"sources": {
        name: {"measures": {"orientation_selectivity": {"osi": {"median": v, "iqr": [0, 1]},
                                                        "fraction_selective": v / 2,
                                                        "note": "text", "flag": True},
                            **({"extra": {"x": 1.0}} if name == "s0" else {})}}
        for name, v in values.items()}}


def test_flatten_keeps_scalar_leaves_only():
    flat = flatten_measures({"a": {"b": 1, "c": [1, 2], "d": "x", "e": None, "f": False,
                                   "g": {"h": 2.5}}})
    assert flat == {"a.b": 1.0, "a.g.h": 2.5}


def test_spread_equals_the_sample_statistics_over_seeds():
    values = {"s0": 0.79, "s1": 0.80, "s2": 0.74}
    spread = between_seed_spread(_survey(values), ["s0", "s1", "s2"])
    s = spread["orientation_selectivity.osi.median"]
    assert s["mean"] == pytest.approx(statistics.mean(values.values()))
    assert s["sd"] == pytest.approx(statistics.stdev(values.values()))  # ddof = 1
    assert (s["min"], s["max"], s["n"]) == (0.74, 0.80, 3)
    half = spread["orientation_selectivity.fraction_selective"]
    assert half["mean"] == pytest.approx(s["mean"] / 2)
    assert spread["_missing"] == {"paths": ["extra.x"]}  # only in one seed: listed, not used
    rows = spread_rows(spread, ["orientation_selectivity.osi.median"], digits=2)
    assert rows[-1] == "| orientation_selectivity.osi.median | 0.78 +/- 0.03 (0.74-0.80; 3) |"


def test_nan_in_one_seed_leaves_the_others():
    spread = between_seed_spread(_survey({"s0": 0.5, "s1": math.nan, "s2": 0.7}),
                                 ["s0", "s1", "s2"])
    s = spread["orientation_selectivity.osi.median"]
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.6)
    assert math.isnan(s["values"][1])


def test_bad_input():
    survey = _survey({"s0": 0.5, "s1": 0.6})
    with pytest.raises(ValueError, match="at least two seeds"):
        between_seed_spread(survey, ["s0"])
    with pytest.raises(ValueError, match=r"\['s9'\] not in the survey"):
        between_seed_spread(survey, ["s0", "s9"])
    with pytest.raises(ValueError, match="paths: 'nope'"):
        spread_rows(between_seed_spread(survey, ["s0", "s1"]), ["nope"])
