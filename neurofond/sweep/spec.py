"""Sweep specifications (TOML): validation, the spec hash, the task table and per-chunk seeds.

A sweep file holds exactly one of two tables, ``[population]`` or ``[training]`` (see
``docs/scale.md`` for the full format and :data:`POPULATION_KEYS`, :data:`TRAINING_KEYS`).
Validation happens here, before anything is written: an unknown key, an unknown checkpoint
or a bad value raises :class:`ValueError` naming the key (``population.n_trials``,
``population.stimuli.grid.orientations``, ...).

The spec hash is the SHA-256 of the canonical JSON of everything that changes results: the
validated settings, the SHA-256 of every checkpoint file and the parsed content of every
protocol file. The ``[run]`` table (retries) is left out: it changes how, not what, is
computed. Seeds of population chunks are derived from the spec alone
(:func:`chunk_seed`), never from the worker that runs the chunk.

This module imports no torch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import SEED_MAX, check_int, check_positive

__all__ = [
    "POPULATION_KEYS",
    "RUN_KEYS",
    "STIMULUS_KEYS",
    "TRAINING_KEYS",
    "Chunk",
    "SweepSpec",
    "TrainingRun",
    "chunk_seed",
    "load_spec",
    "parse_spec",
]

_TOP_KEYS = ("name", "description", "population", "training", "run")
#: Keys of ``[run]``: how the sweep runs (not part of the spec hash).
RUN_KEYS = ("retries",)
#: Keys of ``[population]``.
POPULATION_KEYS = ("checkpoints", "seeds", "n_trials", "trials_per_chunk", "stimuli_per_chunk",
                   "batch_size", "model", "stimuli")
#: Keys of ``[population.model]``: :class:`~neurofond.population.InSilicoPopulation` settings
#: (``ms_per_step`` comes from each stimulus set).
MODEL_KEYS = ("patch_size_deg", "positions", "stride_px", "stride_deg", "transform")
#: Keys of one ``[population.stimuli.<name>]`` table: a protocol, or an inline grating grid.
STIMULUS_KEYS = {
    "protocol": ("protocol", "size_px"),
    "grating": ("size_px", "pixels_per_degree", "orientations", "sfs", "phases", "contrasts",
                "blank_steps", "steps_per_frame", "ms_per_step"),
}
_GRATING_LISTS = ("orientations", "sfs", "phases", "contrasts")
#: Keys of ``[training]``; ``beta``, ``t_train`` and ``seed`` are the swept axes.
TRAINING_KEYS = ("family", "beta", "t_train", "seed", "model", "train", "data")
_TRAIN_DATA_KEYS = ("source", "n_train", "n_validation", "validation_images", "whiten_images",
                    "f0", "per_image_zscore", "lcn", "lcn_size", "min_patch_std", "seed")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class Chunk:
    """One population task: a block of trials x stimuli of one checkpoint and stimulus set.

    ``trials`` and ``stimuli`` are ``(start, stop)`` index ranges in the block's stored
    array (``trial`` runs over seeds, then trials within a seed); ``seed`` is the sampler
    seed of this chunk (:func:`chunk_seed`).
    """

    id: str
    checkpoint: str
    stimuli_name: str
    seed_index: int
    base_seed: int
    trials: tuple[int, int]
    stimuli: tuple[int, int]
    seed: int

    @property
    def group(self) -> str:
        """The zarr group of the chunk's block: ``<checkpoint>/<stimulus set>``."""
        return f"{self.checkpoint}/{self.stimuli_name}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "checkpoint": self.checkpoint, "stimuli_name": self.stimuli_name,
                "seed_index": self.seed_index, "base_seed": self.base_seed,
                "trials": list(self.trials), "stimuli": list(self.stimuli), "seed": self.seed}


@dataclass(frozen=True)
class TrainingRun:
    """One training task: one (beta, t_train, seed) point of a training sweep."""

    id: str
    beta: float
    t_train: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "beta": self.beta, "t_train": self.t_train, "seed": self.seed}


@dataclass
class SweepSpec:
    """A validated sweep specification.

    Attributes
    ----------
    kind : {"population", "training"}
    name, description : str
    settings : dict
        The validated ``[population]`` or ``[training]`` table (checkpoints as absolute
        paths keyed by store name; protocol paths absolute).
    run : dict
        ``[run]`` settings (``retries``).
    fingerprints : dict
        SHA-256 of every checkpoint file and parsed content of every protocol file.
    path : Path or None
        The TOML file it came from.
    """

    kind: str
    name: str
    description: str
    settings: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)
    fingerprints: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def hash(self) -> str:
        """SHA-256 of what determines the results (settings + file fingerprints)."""
        settings = json.loads(json.dumps(self.settings))
        if self.kind == "population":  # files enter by content, not by where they lie
            settings["checkpoints"] = sorted(settings["checkpoints"])
            for entry in settings["stimuli"].values():
                entry.pop("protocol", None)
        payload = {"kind": self.kind, "settings": settings, "fingerprints": self.fingerprints}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "description": self.description,
                "settings": self.settings, "run": self.run, "fingerprints": self.fingerprints,
                "path": None if self.path is None else str(self.path), "hash": self.hash}

    # ------------------------------------------------------------------ tasks
    def training_runs(self) -> list[TrainingRun]:
        """The (beta, t_train, seed) grid, beta slowest, seed fastest."""
        if self.kind != "training":
            raise ValueError("spec: not a training sweep")
        s = self.settings
        return [TrainingRun(id=_run_id(b, t, sd), beta=b, t_train=t, seed=sd)
                for b, t, sd in itertools.product(s["beta"], s["t_train"], s["seed"])]

    def chunks(self, n_stimuli: Mapping[str, int]) -> list[Chunk]:
        """The population tasks, given the number of stimuli of every stimulus set.

        Order: checkpoint, stimulus set, seed, trial block, stimulus block (the order the
        single-process path runs them in; results do not depend on it).
        """
        if self.kind != "population":
            raise ValueError("spec: not a population sweep")
        s = self.settings
        n_trials, tpc = s["n_trials"], s["trials_per_chunk"]
        out = []
        for ck in s["checkpoints"]:
            for st in s["stimuli"]:
                n_stim, spc = int(n_stimuli[st]), s["stimuli_per_chunk"]
                for k, base in enumerate(s["seeds"]):
                    for b, t0 in enumerate(range(0, n_trials, tpc)):
                        t1 = min(n_trials, t0 + tpc)
                        for c, s0 in enumerate(range(0, n_stim, spc)):
                            s1 = min(n_stim, s0 + spc)
                            out.append(Chunk(
                                id=f"{ck}/{st}/seed{k}/t{b}/s{c}", checkpoint=ck,
                                stimuli_name=st, seed_index=k, base_seed=base,
                                trials=(k * n_trials + t0, k * n_trials + t1),
                                stimuli=(s0, s1),
                                seed=chunk_seed(base, ck, st, b, c)))
        return out


def _run_id(beta: float, t_train: int, seed: int) -> str:
    return f"beta{beta:g}_T{t_train}_seed{seed}"


def chunk_seed(base_seed: int, checkpoint: str, stimuli_name: str, trial_block: int,
               stimulus_block: int) -> int:
    """The sampler seed of one population chunk, a function of the spec alone.

    ``numpy.random.SeedSequence`` with entropy ``(base_seed, crc of "checkpoint/stimuli")``
    and spawn key ``(trial_block, stimulus_block)``; the first 64-bit word of its state,
    reduced to ``[0, 2**63 - 1]`` (what :func:`neurofond._checks.check_seed` accepts).
    Names rather than positions enter, so adding a checkpoint or a stimulus set to a spec
    leaves the other blocks' seeds unchanged.
    """
    digest = hashlib.sha256(f"{checkpoint}/{stimuli_name}".encode()).digest()
    name_word = int.from_bytes(digest[:8], "little")
    seq = np.random.SeedSequence(entropy=[int(base_seed), name_word],
                                 spawn_key=(int(trial_block), int(stimulus_block)))
    return int(seq.generate_state(1, dtype=np.uint64)[0]) & SEED_MAX


# --------------------------------------------------------------------------- parsing
def _check_keys(table: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table, got {table!r}")
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise ValueError(f"{name}: unknown key; expected one of {sorted(allowed)}")
    return dict(table)


def _store_name(value: str, where: str) -> str:
    if not value or not set(value) <= _NAME_CHARS or value.startswith("."):
        raise ValueError(f"{where}: {value!r} cannot name a store group; use letters, digits, "
                         f"'_', '-' and '.' (not first)")
    return value


def _int_list(value: Any, where: str, minimum: int = 0) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{where}: expected a non-empty list of integers")
    out = [check_int(v, where, minimum=minimum, maximum=SEED_MAX) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: repeated values in {out}")
    return out


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _relative(value: str, base: Path | None) -> str:
    """A path written in the spec, resolved against the spec's folder when it exists there."""
    if base is not None and not os.path.isabs(value):
        candidate = base / value
        if candidate.exists():
            return str(candidate.resolve())
    return value


def _checkpoints(value: Any, base: Path | None, fingerprints: dict[str, Any]) -> dict[str, str]:
    from ..pretrained import resolve_checkpoint

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError("population.checkpoints: expected a non-empty list of shipped names "
                         "or .safetensors paths")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        where = f"population.checkpoints[{i}]"
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where}: expected a shipped name or a path, got {item!r}")
        try:
            path = resolve_checkpoint(_relative(item, base))
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        key = _store_name(path.stem, where)
        if key in out:
            raise ValueError(f"{where}: two checkpoints share the name {key!r} (file stem)")
        out[key] = str(path)
        fingerprints[f"checkpoint:{key}"] = _file_sha256(path)
    return out


def _stimulus_set(name: str, table: Any, base: Path | None,
                  fingerprints: dict[str, Any]) -> dict[str, Any]:
    from ..stimuli.protocols import expand_values, load_protocol

    where = f"population.stimuli.{name}"
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table")
    if "protocol" in table:
        entry = _check_keys(table, STIMULUS_KEYS["protocol"], where)
        ref = entry["protocol"]
        if not isinstance(ref, str) or not ref:
            raise ValueError(f"{where}.protocol: expected a shipped protocol name or a path")
        size = entry.get("size_px")
        if size is not None:
            size = check_int(size, f"{where}.size_px", minimum=1)
        try:
            proto = load_protocol(_relative(ref, base), size_px=size, render=False)
        except ValueError as exc:
            raise ValueError(f"{where}.protocol: {exc}") from None
        pres = proto.presentation
        fingerprints[f"protocol:{name}"] = proto.spec
        return {"type": "protocol", "protocol": str(proto.path.resolve()), "size_px": size,
                "blank_steps": int(pres["blank_steps"]),
                "steps_per_frame": int(pres["steps_per_frame"]),
                "ms_per_step": float(pres["ms_per_step"])}
    entry = _check_keys(table, STIMULUS_KEYS["grating"], where)
    for key in ("size_px", "pixels_per_degree", "orientations"):
        if key not in entry:
            raise ValueError(f"{where}.{key}: required for a grating grid (or give 'protocol')")
    out: dict[str, Any] = {"type": "grating",
                           "size_px": check_int(entry["size_px"], f"{where}.size_px", minimum=1),
                           "pixels_per_degree": check_positive(entry["pixels_per_degree"],
                                                               f"{where}.pixels_per_degree")}
    defaults = {"sfs": [2.0], "phases": [0.0], "contrasts": [1.0]}
    for key in _GRATING_LISTS:
        out[key] = expand_values(entry.get(key, defaults.get(key)), f"{where}.{key}")
    out["blank_steps"] = check_int(entry.get("blank_steps", 20), f"{where}.blank_steps",
                                   minimum=0)
    out["steps_per_frame"] = check_int(entry.get("steps_per_frame", 50),
                                       f"{where}.steps_per_frame", minimum=1)
    out["ms_per_step"] = check_positive(entry.get("ms_per_step", 10.0), f"{where}.ms_per_step")
    return out


def _population(table: Any, base: Path | None, fingerprints: dict[str, Any]) -> dict[str, Any]:
    t = _check_keys(table, POPULATION_KEYS, "population")
    for key in ("checkpoints", "n_trials", "stimuli"):
        if key not in t:
            raise ValueError(f"population.{key}: required")
    n_trials = check_int(t["n_trials"], "population.n_trials", minimum=1)
    tpc = check_int(t.get("trials_per_chunk", n_trials), "population.trials_per_chunk",
                    minimum=1)
    if n_trials % tpc:
        raise ValueError(f"population.trials_per_chunk: must divide n_trials={n_trials} (a "
                         f"store chunk holds one task), got {tpc}")
    spc = check_int(t.get("stimuli_per_chunk", 16), "population.stimuli_per_chunk", minimum=1)
    model = _check_keys(t.get("model", {}), MODEL_KEYS, "population.model")
    stimuli = t["stimuli"]
    if not isinstance(stimuli, Mapping) or not stimuli:
        raise ValueError("population.stimuli: expected one or more [population.stimuli.<name>] "
                         "tables")
    sets = {}
    for name, table in stimuli.items():
        _store_name(name, f"population.stimuli.{name}")
        sets[name] = _stimulus_set(name, table, base, fingerprints)
    return {
        "checkpoints": _checkpoints(t["checkpoints"], base, fingerprints),
        "seeds": _int_list(t.get("seeds", [0]), "population.seeds"),
        "n_trials": n_trials,
        "trials_per_chunk": tpc,
        "stimuli_per_chunk": spc,
        "batch_size": check_int(t.get("batch_size", 1024), "population.batch_size", minimum=1),
        "model": model,
        "stimuli": sets,
    }


def _training(table: Any, base: Path | None) -> dict[str, Any]:
    from ..fond.config import FAMILIES, ModelConfig, TrainConfig

    t = _check_keys(table, TRAINING_KEYS, "training")
    family = t.get("family", "poisson")
    if family not in FAMILIES:
        raise ValueError(f"training.family: expected one of {FAMILIES}, got {family!r}")
    betas = t.get("beta")
    if betas is None:
        raise ValueError("training.beta: required (a number, a list or a range table)")
    from ..stimuli.protocols import expand_values

    beta = [check_positive(b, "training.beta") for b in expand_values(betas, "training.beta")]
    if len(set(beta)) != len(beta):
        raise ValueError(f"training.beta: repeated values in {beta}")
    t_train = _int_list(t.get("t_train", 16), "training.t_train", minimum=1)
    seeds = _int_list(t.get("seed", [0]), "training.seed")
    model = _check_keys(t.get("model", {}), tuple(f for f in ModelConfig.__dataclass_fields__
                                                 if f not in ("family", "beta", "t_train")),
                        "training.model")
    train = _check_keys(t.get("train", {}), tuple(f for f in TrainConfig.__dataclass_fields__
                                                 if f != "seed"), "training.train")
    data = _check_keys(t.get("data", {}), _TRAIN_DATA_KEYS, "training.data")
    if isinstance(data.get("source"), str) and data["source"] != "bundled":
        data["source"] = _relative(data["source"], base)
    # build one config of each kind now, so a bad value fails before anything is written
    for b, tt, sd in itertools.product(beta, t_train, seeds):
        try:
            ModelConfig(family=family, beta=b, t_train=tt, **model)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"training.model: {exc}") from None
        try:
            TrainConfig(seed=sd, **train)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"training.train: {exc}") from None
    return {"family": family, "beta": beta, "t_train": t_train, "seed": seeds,
            "model": model, "train": train, "data": data}


def parse_spec(data: Mapping[str, Any], *, base: str | os.PathLike | None = None,
               path: str | os.PathLike | None = None) -> SweepSpec:
    """Validate a parsed sweep specification.

    Parameters
    ----------
    data : mapping
        The TOML content.
    base : path, optional
        Folder against which relative checkpoint, protocol and data paths are resolved
        (the spec file's folder).
    path : path, optional
        The file it came from (provenance only).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        Unknown keys, unknown checkpoints or protocols, bad values: the message names the
        key (``population.stimuli.grid.sfs``, ``training.train.max_steps``, ...).
    """
    top = _check_keys(data, _TOP_KEYS, "")
    base_path = None if base is None else Path(base)
    kinds = [k for k in ("population", "training") if k in top]
    if len(kinds) != 1:
        raise ValueError("population: a sweep file holds exactly one of [population] or "
                         f"[training]; found {kinds or 'neither'}")
    kind = kinds[0]
    name = top.get("name", "" if path is None else Path(path).stem)
    description = top.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError("name: 'name' and 'description' must be strings")
    run = _check_keys(top.get("run", {}), RUN_KEYS, "run")
    run["retries"] = check_int(run.get("retries", 2), "run.retries", minimum=0)
    fingerprints: dict[str, Any] = {}
    if kind == "population":
        settings = _population(top["population"], base_path, fingerprints)
    else:
        settings = _training(top["training"], base_path)
    return SweepSpec(kind=kind, name=name, description=description, settings=settings, run=run,
                     fingerprints=fingerprints, path=None if path is None else Path(path))


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep TOML file (:func:`parse_spec`).

    Raises
    ------
    ValueError
        If the file is missing or not valid TOML, or as :func:`parse_spec`.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"spec: no such file {p}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"spec: {p} is not valid TOML: {exc}") from None
    return parse_spec(data, base=p.parent.resolve(), path=p.resolve())
