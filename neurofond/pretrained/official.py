"""Import checkpoints saved by the authors' IterativeVAE code, executing no code.

The authors' reference implementation (github.com/hadivafaii/IterativeVAE) saves a
training run with ``torch.save`` (``base/train_base.py``, ``BaseTrainer.save``) as a
dict ``{"metadata": {...}, "model": model.state_dict(), "model_ema": ... or None,
"optim": optimizer.state_dict(), "scheduler": ... or None}``; ``Module.save`` in
``base/utils_model.py`` saves a bare ``model.state_dict()``. The model's config is not in
the pickle: it is a JSON file written beside the run (``ConfigPoisVAE.json`` for iP-VAE,
``ConfigGausVAE.json`` for iG-VAE and, with ``"latent_act": "relu"``, iGrelu-VAE).

State-dict keys (``main/layers.py``; D inputs, K latents)::

    layer.phi.weight            (D, K)   decoder Phi, x_hat = Phi z
    layer.dec_log_sigma         (1, D)   decoder log-std, read through 3.45 tanh(. / 3.45)
    layer.log_bias              (1, K)   per-neuron log bias b
    layer.log_lr.0              (1,)     log step size of u (mu)          -> log_eta
    layer.log_lr.1              (1,)     log step size of xi (Gaussian)   -> log_eta_xi
    layer.u_init.0              (1, K)   prior log-rates (Poisson) / prior mean
    layer.u_init.1              (1, K)   prior log-std (Gaussian)
    layer.activation.log_gain   (1, K)   relu read-out gain (iGrelu)
    layer.temp, layer.beta_inner, layer.eps   () buffers: sampling temperature,
                                         inner-loop KL weight, clamp-annealing progress
    layer.n_exp                 (T,)     int, candidate counts of the relaxed sampler

:func:`import_official` reads the file with a restricted unpickler (only the torch
tensor-rebuild functions and storages, plain containers and numpy scalars/arrays; any
other global is refused before anything is called), maps the tensors onto
:class:`neurofond.fond.model.IterativeVAE` and optionally saves a neurofond checkpoint.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import importlib
import json
import math
import pickle
import types
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is needed: registering the CLI stays light
    import torch

    from ..fond.model import IterativeVAE

__all__ = ["OFFICIAL_REPOSITORY", "OfficialImportError", "RefusedGlobalError",
           "import_official", "read_official_config", "register_cli", "safe_load"]

OFFICIAL_REPOSITORY = "https://github.com/hadivafaii/IterativeVAE"

#: Config file name -> model type, as written by the authors' ``BaseConfig.save``.
CONFIG_FILES = {"ConfigPoisVAE.json": "poisson", "ConfigGausVAE.json": "gaussian",
                "ConfigLapVAE.json": "laplace"}
#: Decoder log-std soft clamp of the reference code (``get_dec_log_sigma``).
SIGMA_X_CLAMP = 3.45
#: Initial clamp level of the reference code's clamp annealing (``get_c``).
CLAMP_INIT = {"poisson": 2.0, "gaussian": 1.0}
#: Input size (channels, height, width) of the datasets the authors trained on.
_DATASET_SIDES = {"vH16": 16, "vH32": 32, "Kyoto16": 16, "Kyoto32": 32}


class OfficialImportError(ValueError):
    """A file cannot be imported as an authors' IterativeVAE checkpoint."""


class RefusedGlobalError(OfficialImportError, pickle.UnpicklingError):
    """The pickle references a global outside the allowed list; nothing was called."""


# --------------------------------------------------------------------------- unpickling
def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Protocol-2 pickles store bytes as ``_codecs.encode(text, "latin1")``."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise RefusedGlobalError(
            f"refused _codecs.encode with encoding {encoding!r} (only latin1 is allowed)")
    return text.encode("latin1")


def _allowed_global(module: str, name: str) -> Any:
    """The object a pickle may reference, or None when it is not allowed."""
    import collections

    import torch

    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "builtins" and name in ("set", "frozenset", "complex", "slice"):
        return {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice}[name]
    if module == "_codecs" and name == "encode":
        return _latin1_encode
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor_v3",
                                             "_rebuild_parameter"):
        return getattr(torch._utils, name)
    if module == "torch" and name == "Size":
        return torch.Size
    if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if module == "torch" and name.endswith("Storage"):
        obj = getattr(torch, name, None)
        if isinstance(obj, type) and "Storage" in obj.__name__:
            return obj
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "scalar", "_reconstruct"):
        import numpy as np

        numpy2 = int(np.__version__.split(".")[0]) >= 2
        multiarray = (importlib.import_module("numpy._core.multiarray") if numpy2
                      else np.core.multiarray)
        return getattr(multiarray, name)
    if module == "numpy" and name in ("dtype", "ndarray"):
        import numpy as np

        return getattr(np, name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        import numpy as np

        obj = getattr(getattr(np, "dtypes", None), name, None)
        if isinstance(obj, type) and issubclass(obj, np.dtype):
            return obj
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only tensor-rebuild functions, storages, dtypes, plain
    containers and numpy scalars/arrays; any other global raises
    :class:`RefusedGlobalError` naming it, before it is looked up or called."""

    def find_class(self, module: str, name: str) -> Any:
        # protocol-2 pickles name Python 2 modules (``__builtin__``): map them as pickle does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        obj = _allowed_global(module, name)
        if obj is None:
            raise RefusedGlobalError(
                f"refused global {module}.{name}: the pickle references code outside the "
                f"allowed tensors and plain containers, so it was not loaded (nothing was "
                f"executed)")
        return obj


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


#: A module-like object for ``torch.load(pickle_module=...)``: torch's storage handling
#: wraps :class:`RestrictedUnpickler` and every global goes through its ``find_class``.
RESTRICTED_PICKLE = types.SimpleNamespace(__name__="neurofond_restricted_pickle",
                                          Unpickler=RestrictedUnpickler,
                                          load=_restricted_load)


def _is_torchscript(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            tail = member.split("/", 1)[-1]
            if tail == "constants.pkl" or tail.startswith("code/"):
                return True
    return False


def safe_load(path: str | Path) -> Any:
    """Read a ``torch.save`` file (zip or legacy format) without executing code.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not an existing file.
    RefusedGlobalError
        If the pickle references anything but tensors, storages, dtypes, plain
        containers and numpy scalars/arrays (the message names the global).
    OfficialImportError
        TorchScript archives (they carry code), and files that are not readable
        PyTorch pickles (corrupt, truncated or foreign); the message names the path.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: {path} does not exist or is not a file")
    if zipfile.is_zipfile(path):
        try:
            scripted = _is_torchscript(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise OfficialImportError(f"checkpoint: {path} is a corrupt zip archive: {exc}"
                                      ) from exc
        if scripted:
            raise OfficialImportError(
                f"checkpoint: {path} is a TorchScript archive (it carries code); expected a "
                f"torch.save pickle of tensors")
    try:
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=RESTRICTED_PICKLE, mmap=False)
    except RefusedGlobalError as exc:
        raise RefusedGlobalError(f"checkpoint: {path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - torch and pickle raise many error types
        raise OfficialImportError(
            f"checkpoint: {path} is not a readable PyTorch checkpoint (corrupt, truncated or "
            f"a foreign format): {type(exc).__name__}: {exc}") from None


# ----------------------------------------------------------------------------- config
def _find_config(path: Path) -> Path:
    """The model config beside the checkpoint, else in the folder above (their layout:
    ``models/<model>/ConfigPoisVAE.json`` and ``models/<model>/<fit>/<run>.pt``)."""
    for folder in (path.parent, path.parent.parent):
        found = sorted(p for p in folder.glob("Config*.json") if p.name in CONFIG_FILES)
        if len(found) > 1:
            raise OfficialImportError(
                f"config: several model configs in {folder}: {[p.name for p in found]}; "
                f"pass one with config=")
        if found:
            return found[0]
    raise OfficialImportError(
        f"config: no {' / '.join(CONFIG_FILES)} beside {path} or in its parent folder; the "
        f"authors' code writes the model config there (pass config= / --config)")


def read_official_config(config: str | Path | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(model type, config dict)`` from an authors' JSON config file or dict.

    The type comes from the file name (``ConfigPoisVAE.json`` -> ``"poisson"``); for a
    dict or another file name, from its fields (``prior_log_dist``/``clamp_prior`` only
    exist for iP-VAE, ``latent_act`` only for the Gaussian models).
    """
    kind = None
    if isinstance(config, dict):
        data = dict(config)
    else:
        cpath = Path(config)
        if not cpath.is_file():
            raise FileNotFoundError(f"config: {cpath} does not exist or is not a file")
        try:
            data = json.loads(cpath.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OfficialImportError(f"config: {cpath} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise OfficialImportError(f"config: {cpath} holds {type(data).__name__}, "
                                      f"expected a JSON object")
        kind = CONFIG_FILES.get(cpath.name)
    if kind is None:
        if "prior_log_dist" in data or "clamp_prior" in data:
            kind = "poisson"
        elif "latent_act" in data:
            kind = "gaussian"
        else:
            raise OfficialImportError(
                "config: cannot tell the model type (no clamp_prior/prior_log_dist for "
                "iP-VAE, no latent_act for iG/iGrelu-VAE)")
    return kind, data


def _field(cfg: dict[str, Any], name: str, default: Any = None, *, required: bool = False
           ) -> Any:
    if name not in cfg:
        if required:
            raise OfficialImportError(f"config: missing field {name!r}")
        return default
    return cfg[name]


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value):
        raise OfficialImportError(f"config: field {name!r} must be a finite number, "
                                  f"got {value!r}")
    return float(value)


def _pair(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise OfficialImportError(f"config: field {name!r} must be two numbers (mu, log "
                                  f"sigma) for a Gaussian model, got {value!r}")
    return _number(value[0], name), _number(value[1], name)


def _family(kind: str, cfg: dict[str, Any]) -> str:
    if kind == "poisson":
        return "poisson"
    if kind == "gaussian":
        act = _field(cfg, "latent_act")
        if act is None:
            return "gaussian"
        if act == "relu":
            return "gaussian_relu"
        raise OfficialImportError(
            f"config: field 'latent_act' = {act!r} is not supported; neurofond models the "
            f"iG-VAE (latent_act null) and the iGrelu-VAE (latent_act 'relu')")
    raise OfficialImportError(
        f"config: model type {kind!r} is not supported; neurofond imports iP-VAE "
        f"(ConfigPoisVAE), iG-VAE and iGrelu-VAE (ConfigGausVAE)")


def _check_architecture(cfg: dict[str, Any]) -> None:
    for name, want in (("inf_type", "grad"), ("dec_type", "lin")):
        value = _field(cfg, name, want)
        if value != want:
            raise OfficialImportError(
                f"config: field {name!r} = {value!r} is not supported (only {want!r}: "
                f"gradient inference with a linear decoder)")
    inner = _field(cfg, "n_iters_inner", 1)
    if inner != 1:
        raise OfficialImportError(
            f"config: field 'n_iters_inner' = {inner!r} is not supported: with more than one "
            f"inner iteration the update adds a beta_inner KL term that neurofond's "
            f"IterativeVAE does not have (only 1)")
    feeder = _field(cfg, "dataset", "")
    if isinstance(feeder, str) and "+" in feeder:
        raise OfficialImportError(
            f"config: field 'dataset' = {feeder!r} uses a jitter/rotate feeder; only "
            f"stationary patch datasets are supported")


# ---------------------------------------------------------------------- state dict
def _state_dict(obj: Any, path: Path, use_ema: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model state dict, metadata)`` from a trainer checkpoint or a bare state dict."""
    import torch

    if not isinstance(obj, dict):
        raise OfficialImportError(
            f"checkpoint: {path} holds a {type(obj).__name__}; expected the authors' "
            f"trainer dict (metadata, model, model_ema, optim, scheduler) or a model "
            f"state_dict")
    if "model" in obj:
        key = "model_ema" if use_ema else "model"
        state = obj.get(key)
        if state is None:
            raise OfficialImportError(f"checkpoint: {path} has no {key!r} weights"
                                      + (" (trained without EMA)" if use_ema else ""))
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    elif obj and all(isinstance(k, str) and k.startswith("layer.") for k in obj):
        if use_ema:
            raise OfficialImportError(f"checkpoint: {path} is a bare state_dict without "
                                      f"EMA weights")
        state, metadata = obj, {}
    else:
        keys = sorted(map(str, obj))[:12]
        raise OfficialImportError(
            f"checkpoint: {path} has an unknown layout (top-level keys {keys}); expected "
            f"the authors' trainer dict with a 'model' entry or a state_dict of 'layer.*' "
            f"tensors")
    if not isinstance(state, dict):
        raise OfficialImportError(f"checkpoint: {path} 'model' entry is a "
                                  f"{type(state).__name__}, expected a state_dict")
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise OfficialImportError(f"checkpoint: {path} state_dict entry {k!r} is a "
                                      f"{type(v).__name__}, expected a tensor")
    return dict(state), metadata


def _expected_shapes(family: str, d: int, k: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "layer.phi.weight": (d, k), "layer.dec_log_sigma": (1, d),
        "layer.log_bias": (1, k), "layer.log_lr.0": (1,), "layer.u_init.0": (1, k),
    }
    if family != "poisson":
        shapes.update({"layer.log_lr.1": (1,), "layer.u_init.1": (1, k)})
    if family == "gaussian_relu":
        shapes["layer.activation.log_gain"] = (1, k)
    return shapes


_BUFFERS = ("layer.temp", "layer.beta_inner", "layer.eps", "layer.n_exp")


def _check_tensors(state: dict[str, Any], family: str, k: int, d_expected: int | None,
                   path: Path) -> int:
    """Validate keys and shapes; returns D."""
    import torch

    phi = state.get("layer.phi.weight")
    if phi is None:
        raise OfficialImportError(f"checkpoint: {path} is missing key 'layer.phi.weight' "
                                  f"(the decoder)")
    if phi.ndim != 2:
        raise OfficialImportError(f"checkpoint: {path} key 'layer.phi.weight' has shape "
                                  f"{tuple(phi.shape)}, expected (D, K)")
    d = int(phi.shape[0])
    if d_expected is not None and d != d_expected:
        raise OfficialImportError(
            f"checkpoint: {path} key 'layer.phi.weight' has {d} inputs but the config's "
            f"dataset implies {d_expected}")
    expected = _expected_shapes(family, d, k)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise OfficialImportError(f"checkpoint: {path} is missing keys {missing} for an "
                                  f"{family} model")
    unknown = sorted(set(state) - set(expected) - set(_BUFFERS))
    if unknown:
        raise OfficialImportError(
            f"checkpoint: {path} has keys {unknown} that a {family} model of the authors' "
            f"code does not have (another architecture or activation?)")
    for key, shape in expected.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise OfficialImportError(
                f"checkpoint: {path} key {key!r} has shape {tuple(tensor.shape)}, expected "
                f"{shape} (D={d}, K={k} from the config's n_latents)")
        if not tensor.is_floating_point():
            raise OfficialImportError(f"checkpoint: {path} key {key!r} has dtype "
                                      f"{tensor.dtype}, expected a floating-point tensor")
        if not torch.isfinite(tensor).all():
            raise OfficialImportError(f"checkpoint: {path} key {key!r} contains NaN or inf")
    return d


def _input_size(cfg: dict[str, Any]) -> int | None:
    dataset = _field(cfg, "dataset")
    if not isinstance(dataset, str):
        return None
    side = _DATASET_SIDES.get(dataset.split("-")[0])
    channels = 3 if dataset.endswith("-col") else 1
    return None if side is None else channels * side * side


def _scalar(state: dict[str, Any], key: str, default: float) -> float:
    value = state.get(key)
    if value is None:
        return default
    if value.numel() != 1:
        raise OfficialImportError(f"state_dict key {key!r} has shape {tuple(value.shape)}, "
                                  f"expected a scalar")
    return float(value.reshape(()))


# ----------------------------------------------------------------------------- import
def _plain(obj: Any) -> Any:
    """JSON-safe copy of a scalar metadata value (number or string); others give None."""
    if isinstance(obj, (str, bool, int)) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _plain(obj.item())
    return None


def import_official(path: str | Path, config: str | Path | dict[str, Any] | None = None,
                    out: str | Path | None = None, *, use_ema: bool = False,
                    overwrite: bool = False, global_mean: float = 0.0,
                    global_std: float = 1.0) -> IterativeVAE | Path:
    """Convert an authors' IterativeVAE checkpoint into a neurofond model.

    Parameters
    ----------
    path : str or Path
        A ``.pt`` file written by the authors' ``BaseTrainer.save`` (a dict with
        ``metadata``, ``model``, ``model_ema``, ``optim``, ``scheduler``) or by
        ``Module.save`` (a bare ``model.state_dict()``). Read without executing code.
    config : path or dict, optional
        Their model config (``ConfigPoisVAE.json`` / ``ConfigGausVAE.json``); by default
        the one beside ``path`` or in its parent folder.
    out : str or Path, optional
        Where to save the neurofond checkpoint (``.safetensors``, plus a JSON sidecar).
    use_ema : bool
        Import the ``model_ema`` weights instead of ``model``.
    overwrite : bool
        Replace ``out`` if it exists.
    global_mean, global_std : float
        The global z-score of the authors' patch file (their loader subtracts the mean
        and divides by the std of the whole ``processed.npy``); not in their checkpoint,
        so recorded as given.

    Returns
    -------
    IterativeVAE (eval mode) when ``out`` is None, else the saved checkpoint's Path.

    Raises
    ------
    FileNotFoundError
        Missing checkpoint or config file.
    RefusedGlobalError
        A pickle carrying code (the refused global is named; nothing is executed).
    OfficialImportError
        Corrupt/foreign files, unknown layouts, missing keys, shape mismatches and
        unsupported model types or settings (naming the key or config field).
    """
    import torch

    from ..fond.config import ModelConfig
    from ..fond.data import Preprocessing
    from ..fond.model import IterativeVAE

    path = Path(path)
    obj = safe_load(path)
    if config is None:
        config = _find_config(path)
    kind, cfg = read_official_config(config)
    family = _family(kind, cfg)
    _check_architecture(cfg)
    state, metadata = _state_dict(obj, path, use_ema)

    latents = _field(cfg, "n_latents", required=True)
    if isinstance(latents, int) and not isinstance(latents, bool):
        latents = [latents]
    if (not isinstance(latents, list) or len(latents) != 1 or not isinstance(latents[0], int)
            or latents[0] < 1):
        raise OfficialImportError(
            f"config: field 'n_latents' = {latents!r} is not supported (one layer of K "
            f"latents, e.g. [512])")
    k = latents[0]
    d = _check_tensors(state, family, k, _input_size(cfg), path)

    # clamp levels: the reference code anneals c from CLAMP_INIT to the config value with
    # the 'eps' buffer (1 at the end of training); neurofond keeps the level reached.
    progress = _scalar(state, "layer.eps", 1.0)
    if not 0.0 <= progress <= 1.0:
        raise OfficialImportError(f"checkpoint: {path} buffer 'layer.eps' = {progress}, "
                                  f"expected a clamp-annealing progress in [0, 1]")
    model_kw: dict[str, Any] = dict(
        family=family, n_latents=k, n_inputs=d,
        beta=_number(_field(cfg, "beta_outer", required=True), "beta_outer"),
        t_train=int(_field(cfg, "t_train", 16)), kl_variant="reference",
        init_scale=_number(_field(cfg, "init_scale", 1e-4) or 1e-4, "init_scale"),
        sigma_x_clamp=SIGMA_X_CLAMP, bias_init=-3.0, floor=-8.0)
    if family == "poisson":
        c_u = _number(_field(cfg, "clamp_u", required=True), "clamp_u")
        c_du = _number(_field(cfg, "clamp_du", required=True), "clamp_du")
        if c_u != c_du:
            raise OfficialImportError(
                f"config: fields 'clamp_u' = {c_u} and 'clamp_du' = {c_du} differ; "
                f"neurofond's iP-VAE uses one soft-clamp level for du and u")
        c0 = CLAMP_INIT["poisson"]
        clamp_now = c0 + progress * (c_u - c0)
        model_kw.update(clamp_start=c0, clamp_stop=c_u)
        if _field(cfg, "prior_log_dist", "uniform") == "uniform":
            model_kw["prior_init"] = (-6.0, _number(_field(cfg, "clamp_prior", -2.0),
                                                    "clamp_prior"))
    else:
        c0 = CLAMP_INIT["gaussian"]
        c_du = _pair(_field(cfg, "clamp_du", required=True), "clamp_du")
        c_u = _pair(_field(cfg, "clamp_u", required=True), "clamp_u")
        model_kw.update(clamp_du=tuple(c0 + progress * (c - c0) for c in c_du),
                        clamp_u=tuple(c0 + progress * (c - c0) for c in c_u))
    try:
        model_cfg = ModelConfig(**model_kw)
    except (TypeError, ValueError) as exc:
        raise OfficialImportError(f"config: cannot build a neurofond config: {exc}") from exc

    def vec(key: str) -> torch.Tensor:
        return state[key].detach().to(torch.float32).reshape(-1).clone()

    ours: dict[str, torch.Tensor] = {
        "phi": state["layer.phi.weight"].detach().to(torch.float32).clone(),
        "log_eta": vec("layer.log_lr.0").reshape(()),
        "log_bias": vec("layer.log_bias"),
        "log_sigma_x": vec("layer.dec_log_sigma"),
        "prior_u": vec("layer.u_init.0"),
    }
    if family == "poisson":
        ours["clamp_c"] = torch.tensor(float(clamp_now))
    else:
        ours["prior_xi"] = vec("layer.u_init.1")
        ours["log_eta_xi"] = vec("layer.log_lr.1").reshape(())
        ours["clamp_c"] = torch.tensor(float(model_cfg.clamp_stop))
    if family == "gaussian_relu":
        ours["log_gain"] = vec("layer.activation.log_gain")
    model = IterativeVAE(model_cfg)
    try:
        model.load_state_dict(ours, strict=True)
    except RuntimeError as exc:  # pragma: no cover - the shapes were checked above
        raise OfficialImportError(f"checkpoint: {path} does not map onto neurofond's "
                                  f"IterativeVAE: {exc}") from exc
    model.eval()
    if out is None:
        return model

    from ..fond.checkpoint import save_checkpoint

    dataset = _field(cfg, "dataset", "unknown")
    side = int(round(math.sqrt(d)))
    prep = Preprocessing(whiten=True, f0=0.5, per_image_zscore=True, lcn=True, lcn_size=13,
                         patch_size=side if side * side == d else 16,
                         global_mean=float(global_mean), global_std=float(global_std),
                         source=f"official:{dataset}")
    summary = {
        "imported_from": str(path.resolve()),
        "official_repository": OFFICIAL_REPOSITORY,
        "official_config": cfg,
        "official_config_file": None if isinstance(config, dict) else str(Path(config)),
        "weights": "model_ema" if use_ema else "model",
        "official_metadata": {k2: _plain(metadata.get(k2))
                              for k2 in ("timestamp", "checkpoint", "global_step")},
        "clamp_progress_eps": progress,
        "sampling_temperature": _plain(_scalar(state, "layer.temp", float("nan"))),
        "note": ("converted by neurofond import-official; preprocessing records the authors' "
                 "vH16-wht recipe (whitening f0=0.5, 13-px local contrast normalisation, "
                 "global z-score) as documented, the global z-score statistics are not in "
                 "their checkpoint"),
    }
    return save_checkpoint(model, Path(out), preprocessing=prep, summary=summary,
                           overwrite=overwrite)


# -------------------------------------------------------------------------------- CLI
def _cmd_import(args: argparse.Namespace) -> int:
    saved = import_official(args.path, config=args.config, out=args.out, use_ema=args.ema,
                            overwrite=args.overwrite, global_mean=args.global_mean,
                            global_std=args.global_std)
    from ..fond.checkpoint import read_metadata

    meta = read_metadata(saved)
    cfg = meta["model_config"]
    print(json.dumps({"checkpoint": str(saved), "family": cfg["family"],
                      "n_latents": cfg["n_latents"], "n_inputs": cfg["n_inputs"],
                      "beta": cfg["beta"]}))
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``neurofond import-official PATH --out NAME.safetensors``."""
    p = subparsers.add_parser(
        "import-official",
        help="convert a checkpoint of the authors' IterativeVAE code (no code executed)")
    p.add_argument("path", help="their .pt file (BaseTrainer.save or a model state_dict)")
    p.add_argument("--out", required=True, help="neurofond checkpoint to write "
                   "(.safetensors, plus a JSON sidecar)")
    p.add_argument("--config", help="their ConfigPoisVAE.json / ConfigGausVAE.json "
                   "(default: the one beside PATH or in its parent folder)")
    p.add_argument("--ema", action="store_true", help="import the model_ema weights")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--global-mean", dest="global_mean", type=float, default=0.0,
                   help="mean of their patch file's global z-score, if known (default 0)")
    p.add_argument("--global-std", dest="global_std", type=float, default=1.0,
                   help="std of their patch file's global z-score, if known (default 1)")
    p.set_defaults(func=_cmd_import)
