"""Export a checkpoint as a Brain-Score model plugin folder (for submission).

``export_plugin(checkpoint, out)`` writes::

    <out>/                      folder name = Python package name (identifier-safe)
      __init__.py               from brainscore_vision import model_registry
                                from .model import get_model
                                model_registry['<identifier>'] = lambda: get_model('<identifier>')
      model.py                  get_model(identifier) -> IterativeVAEBrainModel built from the
                                checkpoint copied next to it (safetensors; loaded with neurofond,
                                no code executed), get_bibtex(identifier)
      <stem>.safetensors        the checkpoint
      test.py                   pytest tests Brain-Score runs on the plugin
      requirements.txt          neurofond + the versions it was exported with (pinned)
      metadata.yaml             model metadata (Brain-Score's legacy ``models:`` schema)

Brain-Score finds a plugin by scanning ``brainscore_vision/models/*/__init__.py``
for the text ``model_registry['<identifier>']``, so ``__init__.py`` holds that
one registration line and its imports only. The model settings (field of view,
tiling, time step, trial mode, presentation gain) are frozen in ``model.py``.
By default the exported model averages repeated trials (``trials="average"``):
Brain-Score's published benchmarks align model presentations with stimuli
one-to-one (see :mod:`neurofond.brainscore.model`).

This module does not import ``brainscore_vision``; when it is installed the
settings are checked by building the model once.
"""

from __future__ import annotations

import importlib.metadata
import json
import keyword
import os
import pprint
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

from .._files import atomic_directory

__all__ = ["DEFAULT_SETTINGS", "PINNED_PACKAGES", "export_plugin", "plugin_identifier"]

#: Model settings written into the exported ``model.py`` unless overridden.
DEFAULT_SETTINGS: dict[str, Any] = {
    "visual_degrees": 8.0,
    "patch_size_deg": 1.0,
    "grid_deg": 2.0,
    "ms_per_step": 10.0,
    "latency_ms": 0.0,
    "blank_steps": 20,
    "trials": "average",
    "bin_statistic": "rate",
    "seed": 0,
}
#: Packages pinned (``==`` installed version) in the plugin's requirements.txt.
PINNED_PACKAGES: tuple[str, ...] = ("torch", "safetensors", "numpy", "scipy", "xarray",
                                    "pandas", "pillow", "scikit-image", "tqdm")

_BIBTEX = """@inproceedings{vafaii2025brainlike,
  title={Brain-like variational inference},
  author={Vafaii, Hadi and Galor, Dekel and Yates, Jacob L.},
  booktitle={Advances in Neural Information Processing Systems},
  year={2025},
  url={https://arxiv.org/abs/2410.19315}
}"""


def plugin_identifier(checkpoint: str | Path) -> str:
    """Default Brain-Score identifier of a checkpoint: ``neurofond-<stem>``."""
    return f"neurofond-{Path(checkpoint).stem}"


def _resolve_checkpoint(checkpoint: str | Path) -> Path:
    """The one name-or-path rule: :func:`neurofond.pretrained.resolve_checkpoint`."""
    from ..pretrained import resolve_checkpoint

    return resolve_checkpoint(checkpoint)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _requirements(neurofond_requirement: str | None, pin: bool) -> str:
    lines = ["# neurofond and the versions this plugin was exported and tested with"]
    if neurofond_requirement:
        lines.append(neurofond_requirement)
    else:
        version = _version("neurofond")
        lines.append(f"neurofond=={version}" if version and pin else "neurofond")
    for package in PINNED_PACKAGES:
        version = _version(package)
        if version is None:
            continue
        version = version.split("+")[0]  # local build tags (torch 2.x+cpu) are not on PyPI
        lines.append(f"{package}=={version}" if pin else package)
    return "\n".join(lines) + "\n"


def _metadata(identifier: str, meta: dict[str, Any], n_params: int, size_mb: float,
              settings: dict[str, Any]) -> str:
    cfg = meta["model_config"]
    prep = meta["preprocessing"]
    from ..fond.config import MODEL_NAMES

    family = MODEL_NAMES.get(cfg.get("family"), str(cfg.get("family")))
    images = ", ".join(prep.get("train_images") or []) or prep.get("source", "unknown")
    entry = {
        "architecture": (f"{family}: iterative (recurrent) variational autoencoder, "
                         f"K={cfg.get('n_latents')} latent neurons on 16x16 patches, tiled "
                         f"over the central {settings['grid_deg']:g} deg"),
        "model_family": family,
        "total_parameter_count": int(n_params),
        "trainable_parameter_count": int(n_params),
        "total_layers": 1,
        "trainable_layers": 1,
        "model_size_mb": round(size_mb, 3),
        "training_dataset": f"whitened natural image patches ({images})",
        "task_specialization": "unsupervised (amortised iterative variational inference)",
        "brainscore_link": None,
        "huggingface_link": None,
        "extra_notes": ("neurofond export; V1 only; settings "
                        + json.dumps(settings, sort_keys=True)),
        "runnable": True,
    }
    doc = {"models": {identifier: entry}}
    try:
        import yaml

        return yaml.safe_dump(doc, sort_keys=False, width=100)
    except ImportError:  # JSON is valid YAML
        return json.dumps(doc, indent=2) + "\n"


def _init_py(identifier: str) -> str:
    return (
        "from brainscore_vision import model_registry\n"
        "from .model import get_model\n"
        "\n"
        f"model_registry[{identifier!r}] = lambda: get_model({identifier!r})\n"
    )


def _model_py(identifier: str, filename: str, settings: dict[str, Any], bibtex: str) -> str:
    settings_text = pprint.pformat(dict(sorted(settings.items())), sort_dicts=True, width=90)
    return f'''"""Brain-Score model plugin {identifier!r}, exported by neurofond.

The model is an iterative VAE checkpoint ({filename}, safetensors: tensors and
JSON only) wrapped as a V1 BrainModel by neurofond.brainscore. Settings below
were frozen at export time; see neurofond's docs/brainscore.md.
"""

from pathlib import Path

from neurofond.brainscore import IterativeVAEBrainModel

CHECKPOINT = Path(__file__).resolve().parent / {filename!r}
IDENTIFIER = {identifier!r}
SETTINGS = {settings_text}
BIBTEX = """{bibtex}"""


def get_model(identifier: str) -> IterativeVAEBrainModel:
    if identifier != IDENTIFIER:
        raise ValueError(f"unknown identifier {{identifier!r}}; this plugin is {{IDENTIFIER!r}}")
    return IterativeVAEBrainModel.from_checkpoint(CHECKPOINT, identifier=identifier, **SETTINGS)


def get_bibtex(identifier: str) -> str:
    return BIBTEX
'''


def _test_py(identifier: str) -> str:
    return textwrap.dedent(f'''\
        """Tests of the Brain-Score plugin {identifier!r} (run by Brain-Score on submission)."""

        import numpy as np
        import pytest
        from PIL import Image

        import brainscore_vision
        from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet

        IDENTIFIER = {identifier!r}


        def _stimuli(tmp_path):
            x = np.arange(64) / 64.0 * 8.0  # 8 deg field, 3 cycles/deg
            paths = {{}}
            for i, ori in enumerate((0.0, 90.0)):
                theta = np.deg2rad(ori)
                xx, yy = np.meshgrid(x, x)
                phase = 2 * np.pi * 3.0 * (xx * np.cos(theta) + yy * np.sin(theta))
                lum = 0.5 + 0.5 * np.sin(phase)
                path = tmp_path / f"grating{{i}}.png"
                Image.fromarray(np.uint8(np.round(255 * lum)), mode="L").save(path)
                paths[f"grating{{i}}"] = path
            stimuli = StimulusSet({{"stimulus_id": list(paths), "orientation": [0.0, 90.0]}})
            stimuli.stimulus_paths = paths
            stimuli.identifier = "plugin_test_gratings"
            return stimuli


        def test_identifier():
            model = brainscore_vision.load_model(IDENTIFIER)
            assert model.identifier == IDENTIFIER
            assert 0 < model.visual_degrees() < 90


        def test_look_at_v1(tmp_path):
            model = brainscore_vision.load_model(IDENTIFIER)
            model.start_recording("V1", time_bins=[(70, 170)])
            assembly = model.look_at(_stimuli(tmp_path), number_of_trials=2)
            assert set(assembly.dims) == {{"presentation", "neuroid", "time_bin"}}
            assert set(assembly["stimulus_id"].values) == {{"grating0", "grating1"}}
            assert len(set(assembly["neuroid_id"].values)) == assembly.sizes["neuroid"]
            assert np.isfinite(assembly.values).all()


        def test_refuses_other_regions_and_tasks():
            model = brainscore_vision.load_model(IDENTIFIER)
            with pytest.raises(NotImplementedError):
                model.start_recording("IT", time_bins=[(70, 170)])
            with pytest.raises(NotImplementedError):
                model.start_task("label", "imagenet")
        ''')


def export_plugin(checkpoint: str | Path, out: str | Path, *, identifier: str | None = None,
                  neurofond_requirement: str | None = None, pin: bool = True,
                  overwrite: bool = False, validate: bool = True,
                  **settings: Any) -> Path:
    """Write a Brain-Score model plugin folder for ``checkpoint``.

    Parameters
    ----------
    checkpoint : path or str
        A ``.safetensors`` checkpoint, or the name of a shipped model.
    out : path
        The plugin folder to create. Its name becomes the Python package
        ``brainscore_vision.models.<name>``, so it must be a valid identifier
        (letters, digits, underscores; e.g. ``neurofond_ipvae_k512``).
    identifier : str, optional
        Brain-Score model identifier (default ``neurofond-<checkpoint stem>``).
    neurofond_requirement : str, optional
        The neurofond line of requirements.txt (default ``neurofond==<installed
        version>``; e.g. ``neurofond @ git+https://github.com/ORG/neurofond@v0.1.0``
        when neurofond is not on PyPI).
    pin : bool
        Pin ``==`` the installed versions of neurofond and :data:`PINNED_PACKAGES`.
    overwrite : bool
        Replace an existing non-empty folder. The settings are checked first
        and the plugin is built in a temporary folder beside ``out``, then
        swapped in by renames, so a failed export leaves ``out`` as it was.
        Files in ``out`` that the export did not write are kept (carried into
        the new folder); a folder holding plugin file names (``model.py``, ...)
        not written by a neurofond export is refused even with ``overwrite``.
    validate : bool
        Load the copied checkpoint from the new folder before the swap. (The
        settings are always checked before anything is written: by building
        the BrainModel when brainscore_vision is installed, else the
        population settings.)
    **settings
        Model settings (:class:`~neurofond.brainscore.IterativeVAEBrainModel`
        arguments: ``visual_degrees``, ``patch_size_deg``, ``grid_deg``,
        ``ms_per_step``, ``latency_ms``, ``blank_steps``, ``trials``,
        ``bin_statistic``, ``seed``, ``transform``, ``transform_gain``);
        defaults :data:`DEFAULT_SETTINGS`. The linear presentation gain is
        computed now and frozen unless given.

    Returns
    -------
    Path
        The plugin folder.

    Raises
    ------
    ValueError
        Bad folder name, identifier or settings; unreadable checkpoint.
    FileNotFoundError
        Missing checkpoint.
    FileExistsError
        ``out`` exists, is not empty and ``overwrite`` is False; or it holds
        plugin file names that a neurofond export did not write.
    """
    from ..fond.checkpoint import load_checkpoint, read_metadata

    src = _resolve_checkpoint(checkpoint)
    meta = read_metadata(src)
    out = Path(out)
    name = out.name
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"out: the plugin folder name {name!r} must be a valid Python package "
                         f"name (letters, digits, underscores), e.g. "
                         f"{re.sub(r'[^0-9a-zA-Z_]', '_', name).strip('_') or 'neurofond_model'!r}")
    identifier = identifier or plugin_identifier(src)
    bad = any(c in identifier for c in "'\"\\\n") if identifier else True
    if bad or identifier.strip() != identifier:
        raise ValueError(f"identifier: expected a non-empty name without quotes, backslashes or "
                         f"surrounding spaces, got {identifier!r}")
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS) - {"transform", "transform_gain",
                                                               "stride_deg", "batch_size",
                                                               "chunk_size"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown model setting; expected one of "
                         f"{sorted(DEFAULT_SETTINGS) + ['transform', 'transform_gain']}")
    full = {**DEFAULT_SETTINGS, **settings}
    full.setdefault("transform", "linear")
    model, prep, summary = load_checkpoint(src)
    if full["transform"] == "linear" and full.get("transform_gain") is None:
        from ..population import calibrate_gain

        full["transform_gain"] = float(calibrate_gain(prep))
    _check_settings(src, model, prep, identifier, full)  # before anything is written
    keep = _files_to_keep(out, src.name, overwrite)
    filename = src.name
    n_params = sum(int(p.numel()) for p in model.parameters())
    with atomic_directory(out) as tmp:
        shutil.copyfile(src, tmp / filename)
        size_mb = (tmp / filename).stat().st_size / 1e6
        (tmp / "__init__.py").write_text(_init_py(identifier))
        (tmp / "model.py").write_text(_model_py(identifier, filename, full, _BIBTEX))
        (tmp / "test.py").write_text(_test_py(identifier))
        (tmp / "requirements.txt").write_text(_requirements(neurofond_requirement, pin))
        (tmp / "metadata.yaml").write_text(_metadata(identifier, meta, n_params, size_mb, full))
        if validate:
            try:
                load_checkpoint(tmp / filename)
            except ValueError as exc:
                raise ValueError(f"out: the copied checkpoint does not load: {exc}") from exc
        for entry in keep:  # files in `out` this export did not write: carried over unchanged
            _link_or_copy(out / entry, tmp / entry)
    return out


#: Names an export writes (besides the checkpoint, named in model.py); with ``__pycache__``
#: (created when the plugin is imported) the names an earlier export owns.
_PLUGIN_FILES = ("__init__.py", "model.py", "test.py", "requirements.txt", "metadata.yaml")
_MODEL_PY_MARKER = "exported by neurofond."
_CHECKPOINT_LINE = re.compile(r"^CHECKPOINT = Path\(__file__\)\.resolve\(\)\.parent / "
                              r"'([^'/\\]+\.safetensors)'$", re.MULTILINE)


def _earlier_export(out: Path) -> set[str]:
    """Names in ``out`` written by an earlier neurofond export (empty if it is not one)."""
    model_py = out / "model.py"
    try:
        text = model_py.read_text()
    except (OSError, UnicodeDecodeError):
        return set()
    if _MODEL_PY_MARKER not in text.split("\n", 2)[0]:
        return set()
    owned = {*_PLUGIN_FILES, "__pycache__"}
    match = _CHECKPOINT_LINE.search(text)
    if match:
        owned.add(match.group(1))
    return owned


def _files_to_keep(out: Path, filename: str, overwrite: bool) -> list[str]:
    """Entries of an existing ``out`` to carry into the new plugin folder.

    Refuses (FileExistsError) a non-empty ``out`` without ``overwrite``, and, even with it,
    a folder whose files the export would replace but did not write.
    """
    if not out.exists():
        return []
    if not out.is_dir():
        raise FileExistsError(f"out: {out} exists and is not a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return []
    if not overwrite:
        raise FileExistsError(f"out: {out} exists and is not empty; pass overwrite=True "
                              f"(--overwrite) to replace it")
    owned = _earlier_export(out)
    clash = sorted(set(entries) & {*_PLUGIN_FILES, filename} - owned)
    if clash:
        raise FileExistsError(
            f"out: {out} holds {clash}, which the export would replace but did not write "
            f"(no neurofond-exported model.py there); nothing was changed. Choose another "
            f"folder or move them")
    return [e for e in entries if e not in owned and e not in {*_PLUGIN_FILES, filename}]


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (else copy) a file or folder tree; the original stays until the swap."""
    def one(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, symlinks=True, copy_function=one)
    elif src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        one(str(src), str(dst))


def _check_settings(src: Path, model: Any, prep: Any, identifier: str,
                    settings: dict[str, Any]) -> None:
    """Build the model with ``settings`` before writing anything (ValueError if it cannot).

    With brainscore_vision installed the whole BrainModel is built; without it the
    population settings (``ms_per_step``, ``patch_size_deg``, presentation transform)
    are checked.
    """
    try:
        from . import require_brainscore

        require_brainscore()
        have_brainscore = True
    except ImportError:
        have_brainscore = False
    try:
        if have_brainscore:
            from .model import IterativeVAEBrainModel

            IterativeVAEBrainModel.from_checkpoint(src, identifier=identifier, **settings)
        else:
            from ..population import InSilicoPopulation, PresentationTransform

            transform: Any = settings["transform"]
            if settings.get("transform_gain") is not None:
                if transform != "linear":
                    raise ValueError("transform_gain: only used with transform='linear'")
                transform = PresentationTransform(prep, "linear",
                                                  gain=settings["transform_gain"])
            InSilicoPopulation(model, prep, ms_per_step=settings["ms_per_step"],
                               patch_size_deg=settings["patch_size_deg"], transform=transform)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"settings: the exported model cannot be built: {exc}") from exc
