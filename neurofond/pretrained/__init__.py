"""Shipped pretrained populations and loading of any saved checkpoint.

The checkpoints in this folder were trained with ``neurofond train`` on the
photos bundled in the scikit-image and scikit-learn wheels; each file's JSON
sidecar records the command, time and final metrics (see docs/pretrained.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fond.checkpoint import load_checkpoint, read_metadata
from ..fond.config import MODEL_NAMES

__all__ = ["DEFAULT_MODEL", "list_pretrained", "load_model", "load_pretrained",
           "pretrained_path"]

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "ipvae-k512-b24-photos"
_DESCRIPTIONS = {
    "ipvae": "iterative Poisson VAE (spiking)",
    "igvae": "iterative Gaussian VAE",
    "igrelu": "iterative Gaussian VAE with relu read-out",
}


def _available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(HERE.glob("*.safetensors"))}


def list_pretrained() -> list[dict[str, Any]]:
    """Shipped models: name, model family, K, beta, description and summary figures."""
    rows = []
    for name, path in _available().items():
        meta = read_metadata(path)
        cfg = meta["model_config"]
        rows.append({
            "name": name,
            "model": MODEL_NAMES[cfg["family"]],
            "family": cfg["family"],
            "n_latents": cfg["n_latents"],
            "beta": cfg["beta"],
            "description": _DESCRIPTIONS.get(name.split("-")[0], ""),
            "path": str(path),
        })
    return rows


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint; ValueError listing the names if unknown."""
    available = _available()
    if name not in available:
        raise ValueError(f"name: unknown pretrained model {name!r}; available: "
                         f"{sorted(available) or 'none shipped'}")
    return available[name]


def load_pretrained(name: str = DEFAULT_MODEL, device: str = "cpu"):
    """Load a shipped model by name: ``(model, preprocessing, summary)``."""
    return load_checkpoint(pretrained_path(name), device=device)


def load_model(name_or_path: str | Path, device: str = "cpu"):
    """Load a shipped model by name or any saved checkpoint by path."""
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        return load_checkpoint(path, device=device)
    return load_pretrained(str(name_or_path), device=device)
