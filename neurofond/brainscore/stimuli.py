"""Brain-Score StimulusSets of PNG files built from neurofond stimuli.

Brain-Score models read their stimuli from image files
(``StimulusSet.get_stimulus(stimulus_id)`` -> path). These helpers write
neurofond stimuli (first frame of each stimulus) as 8-bit grayscale PNG files
and return a :class:`~brainscore_core.supported_data_standards.brainio.stimuli.StimulusSet`
with one row per stimulus: every parameter column, ``stimulus_id`` and
``filename``. Luminance in [0, 1] is stored as ``round(255 * L)``: a 2 %
contrast grating spans only 5 grey levels, so low contrasts are quantised.

Files are cached: a folder holds a ``manifest.json`` with the hash of what was
written (the key) and the SHA-256 of every PNG file, and a second call with the
same content reuses the files after checking every file against its SHA-256.
A missing, damaged or replaced file (e.g. two PNGs swapped) makes the cache
invalid: it is rebuilt with a warning naming the files, or, when it cannot be
rewritten, an error names the folder. Manifests without file hashes (written
before hashes were recorded) are rebuilt too. The StimulusSet ``identifier``
ends with the key, so Brain-Score's caches keyed by identifier
(``place_on_screen``) never serve stale images.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_path, atomic_write_json
from ..stimuli import ScreenGeometry, Stimuli

__all__ = ["BRAINSCORE_COLUMN_ALIASES", "grating_stimulus_set", "load_image",
           "stimulus_set_from_stimuli", "write_png"]

#: neurofond parameter name -> Brain-Score (Marques2020 stimulus sets) column name.
BRAINSCORE_COLUMN_ALIASES: dict[str, str] = {
    "sf": "spatial_frequency",
    "radius_deg": "radius",
    "center_x_deg": "position_x",
    "center_y_deg": "position_y",
}

_FORMAT_VERSION = "1"


def write_png(frame: np.ndarray, path: str | Path) -> None:
    """Write a luminance frame (values in [0, 1]) as an 8-bit grayscale PNG."""
    from PIL import Image

    arr = np.clip(np.rint(np.asarray(frame, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(arr, mode="L").save(str(path), format="PNG")


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as grayscale luminance in [0, 1] (float32, shape (H, W)).

    8-bit images (any PIL mode: RGB, RGBA, P, L ...) go through
    ``convert("L")`` (ITU-R 601-2 luma) and are divided by 255; 16-bit
    grayscale PNGs (mode ``I;16``) are divided by 65535.
    """
    from PIL import Image

    with Image.open(path) as img:
        if img.mode.startswith("I;16"):
            return (np.asarray(img, dtype=np.float32) / 65535.0).clip(0.0, 1.0)
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _column(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "US":
        return arr.astype(object)
    return arr


def _digest(parts: list[Any]) -> str:
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def _make_stimulus_set(table: Mapping[str, np.ndarray], ids: list[str], files: list[str],
                       directory: Path, identifier: str, brainscore_names: bool) -> Any:
    from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet

    data: dict[str, Any] = {"stimulus_id": ids}
    for key, values in table.items():
        if key == "stimulus_id":
            continue
        data[key] = _column(values)
        alias = BRAINSCORE_COLUMN_ALIASES.get(key)
        if brainscore_names and alias and alias not in table:
            data[alias] = _column(values)
    data["filename"] = files
    stimulus_set = StimulusSet(data)
    stimulus_set.stimulus_paths = {sid: directory / f for sid, f in zip(ids, files)}
    stimulus_set.identifier = identifier
    return stimulus_set


def _ids(table: Mapping[str, np.ndarray], n: int, prefix: str) -> list[str]:
    if "stimulus_id" in table:
        ids = [str(v) for v in np.asarray(table["stimulus_id"]).tolist()]
        if len(set(ids)) != len(ids):
            raise ValueError("params['stimulus_id']: stimulus ids must be unique")
        return ids
    return [f"{prefix}{i:05d}" for i in range(n)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cached(directory: Path, key: str, files: list[str]) -> bool:
    """True when ``directory`` holds ``files`` for ``key`` with the SHA-256 the manifest
    records; warns naming the files when a matching manifest's files do not verify."""
    manifest = directory / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("key") != key:
        return False
    hashes = data.get("sha256")
    if not isinstance(hashes, dict):  # a manifest of the format without file hashes
        return False
    bad = []
    for name in files:
        path = directory / name
        try:
            ok = path.is_file() and hashes.get(name) == _sha256(path)
        except OSError:
            ok = False
        if not ok:
            bad.append(name)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(
            f"stimulus cache {directory}: {shown} missing or not matching the SHA-256 in "
            f"{manifest.name} (damaged or replaced); rebuilding the cache",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


def _write_all(directory: Path, key: str, files: list[str],
               render: Callable[[int, int], np.ndarray], n: int, batch: int = 64) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").unlink(missing_ok=True)
        hashes: dict[str, str] = {}
        for start in range(0, n, batch):
            frames = render(start, min(n, start + batch))
            for i, frame in enumerate(frames):
                name = files[start + i]
                path = atomic_path(directory / name,
                                   lambda tmp, frame=frame: write_png(frame, tmp))
                hashes[name] = _sha256(path)
        atomic_write_json(directory / "manifest.json",
                          {"key": key, "n": n, "sha256": hashes})
    except OSError as err:
        raise OSError(f"stimulus cache {directory}: cannot (re)build it ({err}); remove the "
                      "folder or choose another one") from err


def stimulus_set_from_stimuli(stimuli: Stimuli, directory: str | Path, identifier: str, *,
                              brainscore_names: bool = True) -> Any:
    """Write ``stimuli`` (first frame of each) as PNG files; return their StimulusSet.

    Parameters
    ----------
    stimuli : Stimuli
        Rendered stimuli; every ``params`` column becomes a StimulusSet column.
        ``stimulus_id`` comes from ``params['stimulus_id']`` when present
        (must be unique), else ``<identifier>_00000`` ...
    directory : path
        Folder for the PNG files (created; reused when its manifest matches and every
        file has the SHA-256 the manifest records, else rebuilt with a warning).
    identifier : str
        Prefix of the StimulusSet identifier; the content hash is appended
        (``<identifier>.<hash>``).
    brainscore_names : bool
        Also add Brain-Score column names for neurofond parameters
        (:data:`BRAINSCORE_COLUMN_ALIASES`: ``sf`` -> ``spatial_frequency``,
        ``radius_deg`` -> ``radius`` ...).

    Returns
    -------
    StimulusSet
        With ``stimulus_paths`` and ``identifier`` set.
    """
    if not isinstance(stimuli, Stimuli):
        raise ValueError(f"stimuli: expected a neurofond Stimuli, got {type(stimuli)}")
    directory = Path(directory)
    frames = stimuli.frames[:, 0]
    table = {k: np.asarray(v) for k, v in stimuli.params.items()}
    key = _digest([_FORMAT_VERSION, frames, {k: np.asarray(v).tolist() for k, v in table.items()}])
    ids = _ids(table, len(stimuli), f"{identifier}_")
    files = [f"{i:05d}.png" for i in range(len(ids))]
    if not _cached(directory, key, files):
        _write_all(directory, key, files, lambda a, b: frames[a:b], len(ids))
    return _make_stimulus_set(table, ids, files, directory, f"{identifier}.{key}",
                              brainscore_names)


def grating_stimulus_set(params: Mapping[str, Any], geometry: ScreenGeometry,
                         directory: str | Path, identifier: str, *, mean: float = 0.5,
                         aperture: str | None = None, brainscore_names: bool = True,
                         extra_columns: Mapping[str, Any] | None = None) -> Any:
    """Render a grating parameter table to PNG files (in batches, cached) as a StimulusSet.

    Parameters
    ----------
    params : mapping of column -> array
        A :func:`neurofond.stimuli.render_gratings` table (``orientation``,
        ``sf``, ``phase``, ``contrast``, ``radius_deg`` ...). Extra columns
        that are not grating parameters go in ``extra_columns``.
    geometry : ScreenGeometry
        Canvas of every image.
    directory, identifier, brainscore_names
        As in :func:`stimulus_set_from_stimuli`.
    mean, aperture
        As in :func:`neurofond.stimuli.render_gratings`.
    extra_columns : mapping, optional
        More StimulusSet columns (one value per row), e.g. ``stimulus_id``,
        ``contrast_pct``.
    """
    from ..stimuli import render_gratings

    table = {k: np.atleast_1d(np.asarray(v)) for k, v in params.items()}
    n = len(next(iter(table.values())))
    extra = {k: np.atleast_1d(np.asarray(v)) for k, v in (extra_columns or {}).items()}
    for key, values in extra.items():
        if len(values) != n:
            raise ValueError(f"extra_columns[{key!r}]: expected {n} values, got {len(values)}")
    key = _digest([_FORMAT_VERSION, "gratings", {k: v.tolist() for k, v in table.items()},
                   [geometry.pixels_per_degree, list(geometry.size_px)], mean, aperture,
                   {k: v.tolist() for k, v in extra.items()}])
    all_columns = {**table, **extra}
    ids = _ids(all_columns, n, f"{identifier}_")
    files = [f"{i:05d}.png" for i in range(n)]
    directory = Path(directory)
    if not _cached(directory, key, files):
        def render(a: int, b: int) -> np.ndarray:
            return render_gratings(table, geometry, mean=mean, aperture=aperture,
                                   indices=range(a, b)).frames[:, 0]
        _write_all(directory, key, files, render, n)
    return _make_stimulus_set(all_columns, ids, files, directory, f"{identifier}.{key}",
                              brainscore_names)
