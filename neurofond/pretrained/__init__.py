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
"""

from __future__ import annotations

import os
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
           "resolve_checkpoints"]

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


def _available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(HERE.glob("*.safetensors"))
            if p.stem not in BASELINE_CHECKPOINTS}


def list_pretrained() -> list[dict[str, Any]]:
    """Shipped models: name, model family, K, beta, description and the model card.

    ``card`` is the card stored in the checkpoint's sidecar (:mod:`.cards`), or ``None``.
    """
    from .cards import read_model_card

    rows = []
    for name, path in _available().items():
        meta = read_metadata(path)
        cfg = meta["model_config"]
        rows.append({
            "name": name,
            "model": _model_names()[cfg["family"]],
            "family": cfg["family"],
            "n_latents": cfg["n_latents"],
            "beta": cfg["beta"],
            "description": _DESCRIPTIONS.get(name.split("-")[0], ""),
            "path": str(path),
            "card": read_model_card(path),
        })
    return rows


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint; ValueError listing the names if unknown."""
    available = _available()
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
    available = _available()
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
