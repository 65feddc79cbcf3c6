"""Checkpoints: safetensors weights + JSON metadata; loading never executes code.

A checkpoint is one ``.safetensors`` file. Its header metadata holds
``neurofond_format = "fond-checkpoint"``, ``format_version``, and JSON strings
for ``model_config``, ``preprocessing`` and ``summary`` (training command,
time, final metrics). A sidecar ``<name>.json`` next to it holds the same
metadata plus the training log, for people to read; loading does not need it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .._files import atomic_write_json, save_safetensors_atomic, to_jsonable
from .config import ModelConfig
from .data import Preprocessing
from .model import IterativeVAE

__all__ = ["CheckpointError", "load_checkpoint", "read_metadata", "save_checkpoint",
           "save_safetensors_atomic", "write_json_atomic"]

FORMAT_NAME = "fond-checkpoint"
FORMAT_VERSION = "1"

#: Atomic JSON write (:func:`neurofond._files.atomic_write_json`); kept under this name
#: because the trainer, the report and the scripts import it from here.
write_json_atomic = atomic_write_json


class CheckpointError(ValueError):
    """A file is not a readable neurofond checkpoint."""


def save_checkpoint(model: IterativeVAE, path: str | Path, *, preprocessing: Preprocessing,
                    summary: dict[str, Any] | None = None, log: list[dict[str, Any]] | None = None,
                    overwrite: bool = False) -> Path:
    """Save ``model`` to ``path`` (``.safetensors``) atomically, plus a JSON sidecar.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path: expected a .safetensors file name, got {path}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"path: {path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "neurofond_format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(model.config.to_dict(), sort_keys=True),
        "preprocessing": json.dumps(preprocessing.to_dict(), sort_keys=True),
        "summary": json.dumps(to_jsonable(summary or {}), sort_keys=True),
    }
    save_safetensors_atomic(tensors, path, metadata)
    sidecar = {k: json.loads(v) if k in ("model_config", "preprocessing", "summary") else v
               for k, v in metadata.items()}
    sidecar["log"] = log or []
    write_json_atomic(path.with_suffix(".json"), sidecar)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint's header metadata without loading weights.

    Raises
    ------
    CheckpointError
        Missing, truncated, corrupt or foreign files.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: {path} does not exist or is not a file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(
            f"checkpoint: {path} is not a readable safetensors file (corrupt or truncated?): {exc}"
        ) from exc
    if meta.get("neurofond_format") != FORMAT_NAME:
        raise CheckpointError(
            f"checkpoint: {path} is a safetensors file but not a neurofond FOND checkpoint "
            f"(metadata neurofond_format={meta.get('neurofond_format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint: {path} has format_version "
                              f"{meta.get('format_version')!r}; this neurofond reads "
                              f"{FORMAT_VERSION}")
    try:
        return {
            "model_config": json.loads(meta["model_config"]),
            "preprocessing": json.loads(meta["preprocessing"]),
            "summary": json.loads(meta.get("summary", "{}")),
        }
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint: {path} has malformed metadata: {exc}") from exc


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[IterativeVAE, Preprocessing, dict[str, Any]]:
    """Load a checkpoint: ``(model, preprocessing, summary)``.

    Only tensors and JSON are read (safetensors); no code is executed.

    Raises
    ------
    CheckpointError
        Corrupt, truncated or foreign files, or weights that do not match the
        stored config.
    """
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["model_config"])
        preprocessing = Preprocessing.from_dict(meta["preprocessing"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint: {path} has an invalid config: {exc}") from exc
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint: {path} weights could not be read: {exc}") from exc
    model = IterativeVAE(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint: {path} weights do not match its config: {exc}") from exc
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"checkpoint: {path} tensor {name!r} contains NaN or inf")
    return model.to(device).eval(), preprocessing, meta["summary"]
