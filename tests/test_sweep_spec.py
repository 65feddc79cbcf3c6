"""Sweep specifications: validation names the key and writes nothing; hash; chunk seeds."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from neurofond.sweep import SweepError, parse_spec, run_sweep
from neurofond.sweep.spec import chunk_seed

BASE = {
    "name": "t",
    "population": {
        "checkpoints": ["ipvae-k512-b24-photos"],
        "seeds": [0, 1],
        "n_trials": 4,
        "trials_per_chunk": 2,
        "stimuli_per_chunk": 5,
        "stimuli": {"grid": {"size_px": 32, "pixels_per_degree": 16.0,
                             "orientations": {"start": 0, "stop": 180, "step": 30},
                             "phases": [0, 90], "blank_steps": 2, "steps_per_frame": 3}},
    },
}


def _with(path: str, value, base=BASE):
    """A copy of ``base`` with ``path`` set to ``value`` (KeyError: removed)."""
    spec = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = spec
    for p in parents:
        node = node.setdefault(p, {})
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return spec


@pytest.mark.parametrize(("path", "value", "named"), [
    ("population.n_trialz", 3, "population.n_trialz"),
    ("population.stimuli.grid.orientationz", [0], "population.stimuli.grid.orientationz"),
    ("population.model.gain", 2.0, "population.model.gain"),
    ("run.workers", 2, "run.workers"),
    ("extra", 1, "extra"),
    ("population.n_trials", 0, "population.n_trials"),
    ("population.n_trials", 2.5, "population.n_trials"),
    ("population.trials_per_chunk", 3, "population.trials_per_chunk"),
    ("population.seeds", [0, 0], "population.seeds"),
    ("population.seeds", [-1], "population.seeds"),
    ("population.checkpoints", ["no-such-model"], "population.checkpoints[0]"),
    ("population.checkpoints", ["missing/model.safetensors"], "population.checkpoints[0]"),
    ("population.stimuli.grid.sfs", {"start": 1, "stop": 0, "step": 1},
     "population.stimuli.grid.sfs"),
    ("population.stimuli.grid.pixels_per_degree", -1, "population.stimuli.grid.pixels_per_degree"),
    ("population.stimuli.grid.size_px", KeyError, "population.stimuli.grid.size_px"),
    ("population.stimuli.bad name", {"protocol": "sf_tuning"}, "population.stimuli.bad name"),
    ("population.stimuli.p", {"protocol": "no_such_protocol"}, "population.stimuli.p.protocol"),
    ("population.stimuli.p", {"protocol": "sf_tuning", "n_trials": 3},
     "population.stimuli.p.n_trials"),
    ("run.retries", -1, "run.retries"),
    ("population.model.transform", "bogus", "transform"),  # refused when the store is built
])
def test_bad_spec_names_the_key_and_writes_nothing(tmp_path, path, value, named):
    out = tmp_path / "store"
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        run_sweep(parse_spec(_with(path, value)), out, workers=0, progress=False)
    assert not out.exists()


def test_training_spec_errors_name_the_key():
    base = {"training": {"beta": [1.0, 2.0], "t_train": [2], "seed": [0],
                         "model": {"n_latents": 4}, "train": {"max_steps": 2}}}
    for path, value, named in [
        ("training.model.beta", 3.0, "training.model.beta"),      # swept axis, not a setting
        ("training.train.seed", 3, "training.train.seed"),
        ("training.train.lr", -1.0, "lr"),
        ("training.model.n_latents", 0, "n_latents"),
        ("training.family", "gauss", "training.family"),
        ("training.beta", [1.0, 1.0], "training.beta"),
        ("training.data.sauce", "x", "training.data.sauce"),
    ]:
        with pytest.raises(ValueError, match=named):
            parse_spec(_with(path, value, base))
    with pytest.raises(ValueError, match="exactly one of"):
        parse_spec({**base, **BASE})


def test_hash_tracks_results_not_run_settings():
    a = parse_spec(BASE)
    assert a.hash == parse_spec(copy.deepcopy(BASE)).hash
    assert parse_spec(_with("run", {"retries": 5})).hash == a.hash  # how, not what
    assert parse_spec(_with("population.n_trials", 6)).hash != a.hash
    assert parse_spec(_with("population.seeds", [0, 2])).hash != a.hash
    assert parse_spec(_with("population.stimuli.grid.phases", [0])).hash != a.hash
    assert len(a.fingerprints["checkpoint:ipvae-k512-b24-photos"]) == 64  # file SHA-256


def test_chunk_table_covers_every_cell_once_with_spec_derived_seeds():
    spec = parse_spec(BASE)
    chunks = spec.chunks({"grid": 12})
    # 2 seeds x 2 trial blocks x 3 stimulus blocks (5, 5, 2)
    assert len(chunks) == 12
    cover = np.zeros((8, 12), dtype=int)
    for c in chunks:
        cover[slice(*c.trials), slice(*c.stimuli)] += 1
    assert (cover == 1).all()
    seeds = [c.seed for c in chunks]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds)
    # a function of the names and blocks only: the same in a spec with another checkpoint order
    c = chunks[7]
    assert c.seed == chunk_seed(c.base_seed, c.checkpoint, c.stimuli_name,
                                int(c.id.split("/t")[1].split("/")[0]),
                                int(c.id.rsplit("/s", 1)[1]))
    assert chunk_seed(0, "a", "b", 0, 0) != chunk_seed(0, "a", "b", 0, 1)
    assert chunk_seed(0, "a", "b", 0, 0) != chunk_seed(1, "a", "b", 0, 0)
    assert chunk_seed(0, "a", "b", 0, 0) != chunk_seed(0, "a", "c", 0, 0)


def test_sweep_error_is_a_runtime_error():
    assert issubclass(SweepError, RuntimeError)
