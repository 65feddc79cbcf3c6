"""Checkpoints: safetensors weights + JSON metadata; loading never executes code.

A checkpoint is one ``.safetensors`` file. Its header metadata holds
``neurofond_format = "fond-checkpoint"``, ``format_version``, and JSON strings
for ``model_config``, ``preprocessing`` and ``summary`` (training command,
time, final metrics). A sidecar ``<name>.json`` next to it holds the same
metadata plus the training log, for people to read; loading does not need it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .._files import atomic_write_json, save_safetensors_atomic, to_jsonable
from .config import ModelConfig
from .data import Preprocessing
from .model import IterativeVAE

__all__ = ["CheckpointError", "load_checkpoint", "read_metadata", "save_checkpoint"]

FORMAT_NAME = "fond-checkpoint"
FORMAT_VERSION = "1"

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
    atomic_write_json(path.with_suffix(".json"), sidecar)
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
        out = {
            "model_config": json.loads(meta["model_config"]),
            "preprocessing": json.loads(meta["preprocessing"]),
            "summary": json.loads(meta.get("summary", "{}")),
        }
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint: {path} has malformed metadata: {exc}") from exc
    for key, value in out.items():
        if not isinstance(value, dict):
            raise CheckpointError(f"checkpoint: {path} metadata {key!r}: expected a JSON object, "
                                  f"got {type(value).__name__}")
    return out


#: Largest magnitude accepted for any stored weight, and for log-scale parameters
#: (``log_*``: exp(80) ~ 5.5e34 is still finite in float32, exp(89) is not).
MAX_ABS_WEIGHT = 1e6
MAX_ABS_LOG_PARAM = 80.0

_REAL_FIELDS = ("beta", "clamp_start", "clamp_stop", "floor", "init_scale", "bias_init",
                "sigma_x_clamp")
_POSITIVE_FIELDS = ("beta", "sigma_x_clamp")
_PAIR_FIELDS = ("clamp_du", "clamp_u", "prior_init")
_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def _is_real(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _check_config_fields(path: Path, config: dict[str, Any], prep: dict[str, Any]) -> None:
    """Types and ranges of the stored settings that the dataclasses do not check themselves."""
    def bad(section: str, key: str, want: str) -> CheckpointError:
        value = (config if section == "model_config" else prep).get(key)
        return CheckpointError(f"checkpoint: {path} {section} field {key!r}: expected {want}, "
                               f"got {value!r}")

    for key in _REAL_FIELDS:
        if key in config and not _is_real(config[key]):
            raise bad("model_config", key, "a finite number")
    for key in _POSITIVE_FIELDS:
        if key in config and not config[key] > 0:
            raise bad("model_config", key, "a number > 0")
    for key in _PAIR_FIELDS:
        if key in config:
            pair = config[key]
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(_is_real(v) for v in pair)):
                raise bad("model_config", key, "two finite numbers")
            if key != "prior_init" and not all(v > 0 for v in pair):
                raise bad("model_config", key, "two numbers > 0")
    if "fit_prior" in config and not isinstance(config["fit_prior"], bool):
        raise bad("model_config", "fit_prior", "true or false")
    for key in ("global_mean", "f0", "min_patch_std"):
        if key in prep and not _is_real(prep[key]):
            raise bad("preprocessing", key, "a finite number")
    if "global_std" in prep and not (_is_real(prep["global_std"]) and prep["global_std"] > 0):
        raise bad("preprocessing", "global_std", "a finite number > 0")
    if "f0" in prep and not prep["f0"] > 0:
        raise bad("preprocessing", "f0", "a number > 0")
    if "min_patch_std" in prep and prep["min_patch_std"] < 0:
        raise bad("preprocessing", "min_patch_std", "a number >= 0")
    for key in ("lcn_size", "patch_size"):
        value = prep.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad("preprocessing", key, "a positive integer")
    for key in ("whiten", "per_image_zscore", "lcn"):
        if key in prep and not isinstance(prep[key], bool):
            raise bad("preprocessing", key, "true or false")
    if "source" in prep and not isinstance(prep["source"], str):
        raise bad("preprocessing", "source", "a string")
    for key in ("train_images", "validation_images"):
        if key in prep and not (isinstance(prep[key], list)
                                and all(isinstance(v, (str, int)) for v in prep[key])):
            raise bad("preprocessing", key, "a list of image names")


def _check_tensor_header(path: Path, config: ModelConfig) -> None:
    """Compare the tensor names, shapes and dtypes in the safetensors header (no tensor is
    read) with those the config implies, so a forged config cannot make us allocate."""
    from safetensors import safe_open

    with torch.device("meta"):  # shapes only: no memory is allocated
        expected = {k: tuple(v.shape) for k, v in IterativeVAE(config).state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as fh:
            found = {k: (tuple(fh.get_slice(k).get_shape()), fh.get_slice(k).get_dtype())
                     for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint: {path} tensor header could not be read: {exc}"
                              ) from exc
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint: {path} tensors do not match its model_config (family="
            f"{config.family!r}): missing {missing}, unexpected {unexpected}")
    for name, shape in expected.items():
        got, dtype = found[name]
        if got != shape:
            fields = "n_inputs, n_latents" if name == "phi" else (
                "n_inputs" if name == "log_sigma_x" else "n_latents")
            raise CheckpointError(
                f"checkpoint: {path} tensors do not match its model_config: tensor {name!r} "
                f"has shape {list(got)}, model_config fields {fields} (n_inputs="
                f"{config.n_inputs}, n_latents={config.n_latents}) imply {list(shape)}")
        if dtype not in _FLOAT_DTYPES:
            raise CheckpointError(f"checkpoint: {path} tensor {name!r} has dtype {dtype}; "
                                  f"expected a floating-point dtype")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[IterativeVAE, Preprocessing, dict[str, Any]]:
    """Load a checkpoint: ``(model, preprocessing, summary)``.

    Only tensors and JSON are read (safetensors); no code is executed. Before
    any tensor is read, the stored settings are checked (types and ranges:
    e.g. ``floor`` a finite number, ``global_std`` finite and > 0) and the
    tensor names and shapes in the safetensors header are compared with those
    the config implies (``n_latents``, ``n_inputs``, family), so a forged
    header cannot make the loader allocate more than the file holds. After
    reading, every weight must be finite with ``|w| <= MAX_ABS_WEIGHT``
    (1e6), and log-scale parameters (``log_*``) ``|w| <= MAX_ABS_LOG_PARAM``
    (80, beyond which exp overflows float32).

    Raises
    ------
    CheckpointError
        Corrupt, truncated or foreign files, invalid settings, or weights that
        do not match the stored config or are out of range; the message names
        the file and the field or tensor.
    """
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    _check_config_fields(path, meta["model_config"], meta["preprocessing"])
    try:
        config = ModelConfig.from_dict(meta["model_config"])
        preprocessing = Preprocessing.from_dict(meta["preprocessing"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint: {path} has an invalid config: {exc}") from exc
    _check_tensor_header(path, config)
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint: {path} weights could not be read: {exc}") from exc
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"checkpoint: {path} tensor {name!r} contains NaN or inf")
        bound = MAX_ABS_LOG_PARAM if name.startswith("log_") else MAX_ABS_WEIGHT
        largest = float(tensor.abs().max()) if tensor.numel() else 0.0
        if largest > bound:
            raise CheckpointError(f"checkpoint: {path} tensor {name!r} has |value| up to "
                                  f"{largest:.3g}, beyond the bound {bound:g}")
    model = IterativeVAE(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint: {path} weights do not match its config: {exc}") from exc
    return model.to(device).eval(), preprocessing, meta["summary"]
