"""Shipped pretrained populations, the one checkpoint name-or-path resolver, loading.

The checkpoints in this folder were trained with ``neurofond train`` on the
photos bundled in the scikit-image and scikit-learn wheels; each file's JSON
sidecar records the command, time and final metrics (see docs/pretrained.md).

Every command, script and library function that takes a checkpoint "by name or path"
goes through :func:`resolve_checkpoint` (one rule): an existing file is used as is, a
path-like value (``.safetensors`` suffix or a folder separator) that does not exist is a
:class:`FileNotFoundError`, anything else must be a shipped name (:func:`list_pretrained`);
an unknown name is a :class:`ValueError` listing the shipped names.
:func:`resolve_checkpoints` adds what scripts and comparisons need to tell several
checkpoints apart (family, a unique short key, a label).

Seed replicas: a checkpoint named ``<shipped name>-s<N>`` beside a shipped model is the same
recipe trained with ``--seed N`` (:func:`seed_replicas`). Replicas resolve by name like any
shipped model, but they are listed apart from the one model per family (:data:`SHIPPED`,
:func:`list_pretrained` without ``seeds=True``), so that whatever runs "the shipped models"
does not run every seed; shipping one more seed needs only its two files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The model stack (torch) loads on first use, not at import: the CLI builds its parser from
# this package's names (import-official) without paying for torch.


def _model_names() -> dict[str, str]:
    from ..fond.config import MODEL_NAMES

    return MODEL_NAMES


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's JSON metadata (see :func:`neurofond.fond.checkpoint.read_metadata`)."""
    from ..fond.checkpoint import read_metadata as _read

    return _read(path)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu"):
    """Load a checkpoint file (see :func:`neurofond.fond.checkpoint.load_checkpoint`)."""
    from ..fond.checkpoint import load_checkpoint as _load

    return _load(path, device=device)

__all__ = ["DEFAULT_MODEL", "FAMILY_KEYS", "SHIPPED", "CheckpointInfo", "list_pretrained",
           "load_model", "load_pretrained", "pretrained_path", "resolve_checkpoint",
           "resolve_checkpoints", "seed_replicas", "shipped_seeds"]

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "ipvae-k512-b24-photos"
#: The shipped models, one per family (iP-VAE, iG-VAE, iGrelu-VAE).
SHIPPED = ("ipvae-k512-b24-photos", "igvae-k512-b8-photos", "igrelu-k512-b8-photos")
#: Short key of each model family (result tables key their rows by it).
FAMILY_KEYS = {"poisson": "ipvae", "gaussian": "igvae", "gaussian_relu": "igrelu"}
_DESCRIPTIONS = {
    "ipvae": "iterative Poisson VAE (spiking)",
    "igvae": "iterative Gaussian VAE",
    "igrelu": "iterative Gaussian VAE with relu read-out",
}


#: Shipped checkpoints of baseline models (not iterative VAEs): listed apart from the VAEs
#: and loaded by their model class.
BASELINE_CHECKPOINTS = {
    "lca-k512-photos": "LCA sparse-coding dictionary (Rozell et al. 2008), "
                       "neurofond.models.lca.LCABaseline",
}


#: Name of a seed replica: ``<shipped name>-s<training seed>``.
_REPLICA = re.compile(r"^(?P<base>.+)-s(?P<seed>[0-9]+)$")


def _checkpoints() -> dict[str, Path]:
    """Every VAE checkpoint in this folder, seed replicas included (the names that resolve)."""
    return {p.stem: p for p in sorted(HERE.glob("*.safetensors"))
            if p.stem not in BASELINE_CHECKPOINTS}


def _replica_of(name: str, files: Iterable[str]) -> tuple[str, int] | None:
    """``(shipped name, seed)`` when ``name`` is a seed replica of a model in ``files``."""
    m = _REPLICA.match(name)
    if m is None or m["base"] not in files:
        return None
    return m["base"], int(m["seed"])


def _available() -> dict[str, Path]:
    """The shipped models, one per recipe (seed replicas left out)."""
    files = _checkpoints()
    return {n: p for n, p in files.items() if _replica_of(n, files) is None}


def _training_seed(path: Path) -> int | None:
    from .cards import read_model_card

    card = read_model_card(path) or {}
    seed = card.get("training", {}).get("seed")
    return None if seed is None else int(seed)


def seed_replicas(name: str = DEFAULT_MODEL) -> dict[int, str]:
    """The seed replicas shipped beside a model: ``{training seed: replica name}``.

    A replica is a checkpoint ``<name>-s<N>.safetensors`` in this folder: the same recipe
    (the same model configuration) trained with ``--seed N``. It resolves by name
    (:func:`resolve_checkpoint`, :func:`load_pretrained`) but is not one of :data:`SHIPPED`
    nor listed by :func:`list_pretrained` unless ``seeds=True``.

    Parameters
    ----------
    name : str
        A shipped model (default :data:`DEFAULT_MODEL`).

    Returns
    -------
    dict
        Training seed -> replica name, in increasing seed order; empty when none is shipped.

    Raises
    ------
    ValueError
        ``name`` is not a shipped model (or is itself a replica); a replica whose model
        configuration differs from ``name``'s, or whose model card records another training
        seed than its name says (a file copied in under a wrong name).
    """
    files = _checkpoints()
    available = _available()
    if name not in available:
        raise ValueError(f"name: expected a shipped model {sorted(available) or 'none'}, got "
                         f"{name!r}" + (" (a seed replica)" if name in files else ""))
    base_cfg = read_metadata(available[name])["model_config"]
    out: dict[int, str] = {}
    for other, path in files.items():
        rep = _replica_of(other, files)
        if rep is None or rep[0] != name:
            continue
        seed = rep[1]
        if read_metadata(path)["model_config"] != base_cfg:
            raise ValueError(f"checkpoint: {path.name} is named a seed replica of {name} but "
                             "its model configuration differs")
        card_seed = _training_seed(path)
        if card_seed is not None and card_seed != seed:
            raise ValueError(f"checkpoint: {path.name} is named seed {seed} but its model "
                             f"card records training seed {card_seed}")
        out[seed] = other
    return dict(sorted(out.items()))


def shipped_seeds(name: str = DEFAULT_MODEL) -> list[str]:
    """Every shipped seed of ``name``'s recipe: ``name`` itself, then its seed replicas.

    See :func:`seed_replicas` (same errors).
    """
    return [name, *seed_replicas(name).values()]


def list_pretrained(seeds: bool = False) -> list[dict[str, Any]]:
    """Shipped models: name, model family, K, beta, description and the model card.

    ``card`` is the card stored in the checkpoint's sidecar (:mod:`.cards`), or ``None``;
    ``seed`` is the training seed it records, ``replica_of`` the shipped model a seed
    replica repeats (None for the shipped models themselves).

    Parameters
    ----------
    seeds : bool
        Also list the seed replicas (:func:`seed_replicas`), each after its model. Default
        False: one model per recipe, what "the shipped models" means everywhere else.
    """
    from .cards import read_model_card

    names = {n: None for n in _available()}
    if seeds:
        names = {}
        for name in _available():
            names[name] = None
            names.update({r: name for r in seed_replicas(name).values()})
    files = _checkpoints()
    rows = []
    for name, replica_of in names.items():
        path = files[name]
        meta = read_metadata(path)
        cfg = meta["model_config"]
        rows.append({
            "name": name,
            "model": _model_names()[cfg["family"]],
            "family": cfg["family"],
            "n_latents": cfg["n_latents"],
            "beta": cfg["beta"],
            "description": _DESCRIPTIONS.get(name.split("-")[0], "") + (
                "" if replica_of is None else f"; seed replica of {replica_of}"),
            "path": str(path),
            "card": read_model_card(path),
            "seed": _training_seed(path),
            "replica_of": replica_of,
        })
    return rows


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint (seed replicas included); ValueError listing the names if
    unknown."""
    available = _checkpoints()
    if name not in available:
        raise ValueError(f"name: unknown pretrained model {name!r}; available: "
                         f"{sorted(available) or 'none shipped'}")
    return available[name]


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """The checkpoint file a name or a path stands for (the one resolution rule).

    Parameters
    ----------
    spec : str or path
        A path to a saved checkpoint (``.safetensors``) or the name of a shipped model
        (:func:`list_pretrained`).

    Returns
    -------
    Path
        The absolute path of the checkpoint file.

    Raises
    ------
    FileNotFoundError
        If ``spec`` looks like a path (``.safetensors`` suffix or a folder separator) and
        does not exist.
    ValueError
        If ``spec`` is an existing folder, or neither a file nor a shipped name (the
        message lists the shipped names).

    Examples
    --------
    >>> resolve_checkpoint("ipvae-k512-b24-photos").name
    'ipvae-k512-b24-photos.safetensors'
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise ValueError(f"checkpoint: expected a shipped name or a path, got {spec!r}")
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"checkpoint: {path} is a folder, expected a .safetensors file")
    if path.is_file():
        return path.resolve()
    if path.suffix == ".safetensors" or os.sep in text or "/" in text:
        raise FileNotFoundError(f"checkpoint: {path} does not exist")
    available = _checkpoints()
    if text in available:
        return available[text].resolve()
    raise ValueError(f"checkpoint: unknown pretrained model {text!r} and no such file; "
                     f"shipped: {sorted(available) or 'none'}")


@dataclass
class CheckpointInfo:
    """A resolved checkpoint: where it is, its model family and a short result key.

    ``key`` is set by :func:`resolve_checkpoints` (unique among the checkpoints resolved
    together); ``label`` reads e.g. ``"iP-VAE (ipvae-k512-b24-photos)"``.
    """

    spec: str
    path: Path
    name: str
    family: str
    key: str = ""

    @property
    def label(self) -> str:
        return f"{_model_names().get(self.family, self.family)} ({self.name})"

    @property
    def model_name(self) -> str:
        """The family's model name (``iP-VAE``, ``iG-VAE``, ``iGrelu-VAE``)."""
        return _model_names().get(self.family, self.family)

    @classmethod
    def from_spec(cls, spec: str | os.PathLike) -> CheckpointInfo:
        """:func:`resolve_checkpoint` plus the family read from the file's metadata."""
        path = resolve_checkpoint(spec)
        family = read_metadata(path)["model_config"]["family"]
        return cls(spec=os.fspath(spec), path=path, name=path.stem, family=family)

    def load(self, device: str = "cpu"):
        """``(model, preprocessing, summary)``; the model in eval mode."""
        model, prep, summary = load_checkpoint(self.path, device=device)
        return model.eval(), prep, summary


def resolve_checkpoints(specs: Iterable[str | os.PathLike]) -> list[CheckpointInfo]:
    """Resolve several checkpoints and give each a unique result key.

    The key is the family key (``ipvae``, ``igvae``, ``igrelu``) when that family occurs
    once, else the checkpoint's file stem (``-2``, ``-3`` ... appended to repeats).

    Raises
    ------
    ValueError
        If ``specs`` is empty, or as :func:`resolve_checkpoint`.
    """
    cks = [CheckpointInfo.from_spec(s) for s in specs]
    if not cks:
        raise ValueError("checkpoint: give at least one checkpoint")
    families = [c.family for c in cks]
    used: set[str] = set()
    for c in cks:
        key = FAMILY_KEYS.get(c.family, c.family) if families.count(c.family) == 1 else c.name
        base, i = key, 2
        while key in used:
            key, i = f"{base}-{i}", i + 1
        used.add(key)
        c.key = key
    return cks


def load_pretrained(name: str = DEFAULT_MODEL, device: str = "cpu"):
    """Load a shipped model by name: ``(model, preprocessing, summary)``."""
    return load_checkpoint(pretrained_path(name), device=device)


def load_model(name_or_path: str | os.PathLike, device: str = "cpu"):
    """Load a shipped model by name or any saved checkpoint by path (:func:`resolve_checkpoint`)."""
    return load_checkpoint(resolve_checkpoint(name_or_path), device=device)
