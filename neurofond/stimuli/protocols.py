"""Declarative stimulus protocols (TOML files) -> stimuli plus presentation settings.

A protocol file names a stimulus sweep and how to present it to the model::

    name = "orientation_tuning"
    description = "Static gratings, 12 orientations x 3 SF x 8 phases"

    [geometry]                  # canvas; size_px plus pixels_per_degree or size_deg
    size_px = 32
    pixels_per_degree = 16.0

    [stimulus]
    type = "grating_sweep"      # see STIMULUS_TYPES
    orientations = { start = 0, stop = 180, step = 15 }
    sfs = [1.0, 2.0, 4.0]
    phases = { start = 0, stop = 360, step = 45 }

    [presentation]
    n_trials = 10               # repeats (differ only by the Poisson sampling seed)
    blank_steps = 20            # mean-gray steps before stimulus onset
    steps_per_frame = 50        # model steps per stimulus frame
    ms_per_step = 10.0          # milliseconds per model step

Value lists may be written as arrays, as a scalar, or as ranges:
``{start, stop, step}`` (stop excluded, like ``numpy.arange``),
``{start, stop, num}`` (stop included, like ``numpy.linspace``) or
``{start, stop, num, log = true}`` (log-spaced, like ``numpy.geomspace``).

Timing: a movie frame lasts ``steps_per_frame * ms_per_step`` ms, so a stimulus
with frames must have ``frame_rate_hz = 1000 / (steps_per_frame * ms_per_step)``.
When ``frame_rate_hz`` is omitted from ``[stimulus]`` it is derived this way;
when given, it must agree.

Shipped protocols are package data, ``neurofond/data/protocols/*.toml``
(:data:`PROTOCOL_DIR`, found with :mod:`importlib.resources`, so they travel with a
wheel). :func:`load_protocol` finds a name there, then in ``./stimuli`` of the working
directory; any other protocol is loaded from its path (``load_protocol("my.toml")``,
``neurofond present --protocol my.toml``). To write your own, copy a shipped file
(``neurofond.stimuli.PROTOCOL_DIR / "orientation_tuning.toml"``) and edit it; relative
file paths inside a protocol (``image``, ``path``) are resolved against its folder.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurofond._checks import check_int
from neurofond.data import data_file

from .base import Stimuli, _scalar
from .geometry import ScreenGeometry
from .gratings import drifting_grating_sweep, grating_sweep
from .marques2020 import CANVAS_DEG, CANVAS_PX, MARQUES2020_SETS, marques2020_grid
from .movies import as_luminance, movie_from_video, natural_movie, pink_noise_image

__all__ = [
    "PROTOCOL_DIR",
    "STIMULUS_TYPES",
    "PRESENTATION_DEFAULTS",
    "Protocol",
    "load_protocol",
    "list_protocols",
    "expand_values",
]

_SHIPPED = data_file("protocols")
#: Folder of the shipped protocol files (package data ``neurofond/data/protocols``).
PROTOCOL_DIR: Path = _SHIPPED if isinstance(_SHIPPED, Path) else Path(str(_SHIPPED))

#: Presentation settings and their defaults.
PRESENTATION_DEFAULTS: dict[str, Any] = {
    "n_trials": 10,
    "blank_steps": 0,
    "steps_per_frame": 1,
    "ms_per_step": 10.0,
    "response_window_ms": None,
    "seed": None,
}

_TOP_KEYS = ("name", "description", "citation", "geometry", "stimulus", "presentation")
_GEOMETRY_KEYS = ("size_px", "pixels_per_degree", "size_deg")
_SWEEP_COMMON = ("n_frames", "frame_rate_hz", "mean", "aperture", "ramp_deg", "center_deg",
                 "radii_deg")
_LIST_KEYS = ("orientations", "directions", "sfs", "phases", "contrasts", "tfs", "radii_deg")
_PATH_KEYS = ("drift_sd_px", "microsaccade_rate", "microsaccade_amp_px", "saccade_rate",
              "saccade_amp_px")

#: Stimulus types and the keys each accepts in ``[stimulus]`` (besides ``type``).
STIMULUS_TYPES: dict[str, tuple[str, ...]] = {
    "grating_sweep": ("orientations", "sfs", "phases", "contrasts", "tfs", "counterphase",
                      *_SWEEP_COMMON),
    "drifting_grating_sweep": ("directions", "sfs", "tfs", "contrasts", "phase", *_SWEEP_COMMON),
    "marques2020": ("set", "contrast", "mean"),
    "natural_movie": ("image", "image_size_px", "image_seed", "image_exponent", "n_movies",
                      "n_frames", "window_px", "seed", "frame_rate_hz", "interpolation",
                      "rescale", *_PATH_KEYS),
    "movie_file": ("path", "frame_rate_hz", "max_frames", "rescale"),
}


@dataclass
class Protocol:
    """A loaded protocol.

    Attributes
    ----------
    name : str
        Protocol name (file stem unless ``name`` is set in the file).
    description : str
        Free text from the file.
    stimuli : Stimuli or None
        The rendered stimuli (None when loaded with ``render=False``).
    presentation : dict
        ``n_trials``, ``blank_steps``, ``steps_per_frame``, ``ms_per_step``,
        ``response_window_ms`` (None or ``(start, end)``), ``seed`` (None or int).
    params : dict of str -> ndarray or None
        Parameter table of grating protocols (available without rendering).
    spec : dict
        The parsed TOML.
    path : Path or None
        Source file.

    Notes
    -----
    Iterating yields ``(stimuli, presentation)``, so
    ``stimuli, settings = load_protocol("orientation_tuning")`` works.
    """

    name: str
    description: str
    stimuli: Stimuli | None
    presentation: dict[str, Any]
    params: dict[str, np.ndarray] | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __iter__(self) -> Iterator[Any]:
        yield self.stimuli
        yield self.presentation


def _protocol_dirs() -> list[Path]:
    """Folders searched for protocol names: :data:`PROTOCOL_DIR`, then ``./stimuli``."""
    dirs = [PROTOCOL_DIR]
    local = Path.cwd() / "stimuli"
    if local.resolve() != PROTOCOL_DIR:
        dirs.append(local)
    return [d for d in dirs if d.is_dir()]


def list_protocols(folder: str | Path | None = None) -> list[str]:
    """Names of the protocol files in ``folder``.

    Default: the shipped folder :data:`PROTOCOL_DIR` plus ``./stimuli`` of the
    working directory (for installs outside the repository).
    """
    folders = _protocol_dirs() if folder is None else [Path(folder)]
    return sorted({p.stem for d in folders for p in d.glob("*.toml")})


def expand_values(value: Any, name: str) -> list[float]:
    """Expand a TOML value list: array, scalar or range table.

    Parameters
    ----------
    value : list, number or table
        ``[a, b, ...]``; a number; ``{start, stop, step}`` (stop excluded);
        ``{start, stop, num}`` (stop included); ``{start, stop, num, log=true}``
        (geometric spacing, start and stop > 0).
    name : str
        Key name for error messages.

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        On unknown range keys, missing keys or bad values (message names ``name``).
    """
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected numbers, got {value!r}")
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{name}: expected a list of numbers, got {value!r}")
            out.append(float(v))
        if not out:
            raise ValueError(f"{name}: expected a non-empty list")
        return out
    if isinstance(value, Mapping):
        allowed = {"start", "stop", "step", "num", "log"}
        for key in value:
            if key not in allowed:
                raise ValueError(f"{name}.{key}: unknown range key; expected {sorted(allowed)}")
        if "start" not in value or "stop" not in value:
            raise ValueError(f"{name}: a range needs 'start' and 'stop'")
        start = _scalar(value["start"], f"{name}.start")
        stop = _scalar(value["stop"], f"{name}.stop")
        if ("step" in value) == ("num" in value):
            raise ValueError(f"{name}: a range needs exactly one of 'step' or 'num'")
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"{name}.log: expected true or false, got {log!r}")
        if "step" in value:
            if log:
                raise ValueError(f"{name}.log: log spacing needs 'num', not 'step'")
            step = _scalar(value["step"], f"{name}.step")
            if step == 0 or (stop - start) / step < 0:
                raise ValueError(f"{name}.step: must be non-zero and point from start to stop")
            vals = np.arange(start, stop, step)
        else:
            num = check_int(value["num"], f"{name}.num", 1)
            if log:
                if start <= 0 or stop <= 0:
                    raise ValueError(f"{name}: log spacing needs start > 0 and stop > 0")
                vals = np.geomspace(start, stop, num)
            else:
                vals = np.linspace(start, stop, num)
        if vals.size == 0:
            raise ValueError(f"{name}: the range is empty")
        return [float(v) for v in vals]
    raise ValueError(f"{name}: expected a number, a list or a range table, got {value!r}")


def _resolve(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    if p.is_file():
        return p
    if isinstance(path_or_name, str) and p.parent == Path(".") and path_or_name:
        for folder in _protocol_dirs():
            candidate = folder / (p.name if p.suffix == ".toml" else f"{p.name}.toml")
            if candidate.is_file():
                return candidate
    raise ValueError(
        f"path_or_name: no protocol file {str(path_or_name)!r}; known names: "
        f"{list_protocols()} (in {PROTOCOL_DIR}), or pass a path to a .toml file"
    )


def _check_keys(section: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(section, Mapping):
        raise ValueError(f"{where}: expected a table, got {section!r}")
    for key in section:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise ValueError(f"{prefix}{key}: unknown key; expected one of {sorted(allowed)}")


def _presentation(section: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(section, tuple(PRESENTATION_DEFAULTS), "presentation")
    out = dict(PRESENTATION_DEFAULTS)
    out.update(section)
    out["n_trials"] = check_int(out["n_trials"], "presentation.n_trials", 1)
    blank = out["blank_steps"]
    if isinstance(blank, bool) or not isinstance(blank, int) or blank < 0:
        raise ValueError(f"presentation.blank_steps: expected an integer >= 0, got {blank!r}")
    out["steps_per_frame"] = check_int(out["steps_per_frame"], "presentation.steps_per_frame", 1)
    out["ms_per_step"] = _scalar(out["ms_per_step"], "presentation.ms_per_step", low=0.0,
                                 low_open=True)
    window = out["response_window_ms"]
    if window is not None:
        if (
            not isinstance(window, list) or len(window) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in window)
            or not 0 <= window[0] < window[1]
        ):
            raise ValueError(
                "presentation.response_window_ms: expected [start, end] with 0 <= start < end, "
                f"got {window!r}"
            )
        out["response_window_ms"] = (float(window[0]), float(window[1]))
    seed = out["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"presentation.seed: expected an integer >= 0, got {seed!r}")
    return out


def _geometry(section: Mapping[str, Any], size_px: Any) -> ScreenGeometry:
    _check_keys(section, _GEOMETRY_KEYS, "geometry")
    if "size_px" not in section:
        raise ValueError("geometry.size_px: required")
    size = section["size_px"]
    size = tuple(size) if isinstance(size, list) else size
    if ("pixels_per_degree" in section) == ("size_deg" in section):
        raise ValueError("geometry: give exactly one of pixels_per_degree or size_deg")
    if "size_deg" in section:
        geom = ScreenGeometry.from_size_deg(section["size_deg"], size)
    else:
        geom = ScreenGeometry(section["pixels_per_degree"], size)
    return geom if size_px is None else geom.with_size_px(size_px)


def _frame_rate(stim: Mapping[str, Any], pres: Mapping[str, Any]) -> float:
    implied = 1000.0 / (pres["steps_per_frame"] * pres["ms_per_step"])
    if "frame_rate_hz" not in stim:
        return implied
    rate = _scalar(stim["frame_rate_hz"], "stimulus.frame_rate_hz", low=0.0, low_open=True)
    if not math.isclose(rate, implied, rel_tol=1e-6):
        raise ValueError(
            f"stimulus.frame_rate_hz: {rate:g} Hz disagrees with presentation timing "
            f"1000 / (steps_per_frame * ms_per_step) = {implied:g} Hz"
        )
    return rate


def _image(stim: Mapping[str, Any], base: Path) -> np.ndarray:
    source = stim.get("image", "pink_noise")
    if not isinstance(source, str) or not source:
        raise ValueError(f"stimulus.image: expected 'pink_noise', 'skimage:<name>' or a file "
                         f"path, got {source!r}")
    if source == "pink_noise":
        size = stim.get("image_size_px", 256)
        size = tuple(size) if isinstance(size, list) else size
        return pink_noise_image(size, seed=stim.get("image_seed", 0),
                                exponent=stim.get("image_exponent", 1.0))
    if source.startswith("skimage:"):
        try:
            from skimage import data as skdata
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError("stimulus.image 'skimage:<name>' needs scikit-image") from exc
        loader = getattr(skdata, source.split(":", 1)[1], None)
        if loader is None:
            raise ValueError(f"stimulus.image: unknown scikit-image sample {source!r}")
        return np.asarray(loader())
    path = Path(source)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ValueError(f"stimulus.image: no such file {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        import imageio.v3 as iio
    except ImportError as exc:  # pragma: no cover
        raise ImportError(f"reading {path.suffix!r} images needs imageio; or save as .npy") from exc
    return np.asarray(iio.imread(path))


def _sweep_kwargs(stim: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, value in stim.items():
        if key == "type":
            continue
        if key in _LIST_KEYS:
            kwargs[key] = expand_values(value, f"stimulus.{key}")
        elif key == "center_deg":
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        else:
            kwargs[key] = value
    return kwargs


def _build(
    stim: Mapping[str, Any],
    geom_section: Mapping[str, Any],
    pres: Mapping[str, Any],
    size_px: Any,
    base: Path,
    render: bool,
) -> tuple[Stimuli | None, dict[str, np.ndarray] | None]:
    kind = stim.get("type")
    if kind not in STIMULUS_TYPES:
        raise ValueError(f"stimulus.type: expected one of {sorted(STIMULUS_TYPES)}, got {kind!r}")
    _check_keys(stim, ("type", *STIMULUS_TYPES[kind]), "stimulus")

    if kind in ("grating_sweep", "drifting_grating_sweep"):
        geometry = _geometry(geom_section, size_px)
        kwargs = _sweep_kwargs(stim)
        n_frames = kwargs.get("n_frames", 30 if kind == "drifting_grating_sweep" else 1)
        kwargs["n_frames"] = n_frames
        if kind == "drifting_grating_sweep" or n_frames > 1:
            kwargs["frame_rate_hz"] = _frame_rate(stim, pres)
        builder = grating_sweep if kind == "grating_sweep" else drifting_grating_sweep
        params = builder(geometry, params_only=True, **kwargs)
        if not render:
            return None, params
        return builder(geometry, **kwargs), params

    if kind == "marques2020":
        _check_keys(geom_section, _GEOMETRY_KEYS, "geometry")
        px = geom_section.get("size_px", CANVAS_PX) if size_px is None else size_px
        if "pixels_per_degree" in geom_section and "size_deg" in geom_section:
            raise ValueError("geometry: give exactly one of pixels_per_degree or size_deg")
        if "pixels_per_degree" in geom_section:
            ppd = _scalar(geom_section["pixels_per_degree"], "geometry.pixels_per_degree",
                          low=0.0, low_open=True)
            degrees = geom_section.get("size_px", CANVAS_PX) / ppd
        else:
            degrees = geom_section.get("size_deg", CANVAS_DEG)
        name = stim.get("set", "orientation")
        if name not in MARQUES2020_SETS:
            raise ValueError(f"stimulus.set: expected one of {sorted(MARQUES2020_SETS)}, "
                             f"got {name!r}")
        extra = {k: stim[k] for k in ("contrast", "mean") if k in stim}
        params = marques2020_grid(name, size_px=px, degrees=degrees, params_only=True, **extra)
        if not render:
            return None, params
        return marques2020_grid(name, size_px=px, degrees=degrees, **extra), params

    if not render:
        return None, None
    if kind == "natural_movie":
        _check_keys(geom_section, _GEOMETRY_KEYS, "geometry")
        window = stim.get("window_px", geom_section.get("size_px"))
        if size_px is not None:
            window = size_px
        if window is None:
            raise ValueError("stimulus.window_px: required (or geometry.size_px)")
        window = tuple(window) if isinstance(window, list) else window
        ppd = geom_section.get("pixels_per_degree")
        if ppd is None and "size_deg" in geom_section:
            ppd = ScreenGeometry.from_size_deg(geom_section["size_deg"], window).pixels_per_degree
        image = as_luminance(_image(stim, base), "stimulus.image", stim.get("rescale"))
        path_kwargs = {k: stim[k] for k in _PATH_KEYS if k in stim}
        stimuli = natural_movie(
            image, stim.get("n_frames", 60), window, seed=stim.get("seed", 0),
            n_movies=stim.get("n_movies", 1), frame_rate_hz=_frame_rate(stim, pres),
            interpolation=stim.get("interpolation", "bilinear"), pixels_per_degree=ppd,
            **path_kwargs,
        )
        return stimuli, None

    # movie_file
    if "path" not in stim:
        raise ValueError("stimulus.path: required for type 'movie_file'")
    path = Path(stim["path"])
    path = path if path.is_absolute() else base / path
    ppd = geom_section.get("pixels_per_degree")
    rate = _frame_rate(stim, pres) if "frame_rate_hz" in stim else None
    stimuli = movie_from_video(path, frame_rate_hz=rate, max_frames=stim.get("max_frames"),
                               rescale=stim.get("rescale"), pixels_per_degree=ppd)
    return stimuli, None


def load_protocol(
    path_or_name: str | Path,
    *,
    size_px: int | tuple[int, int] | None = None,
    render: bool = True,
) -> Protocol:
    """Load a TOML protocol and build its stimuli.

    Parameters
    ----------
    path_or_name : str or Path
        A path to a ``.toml`` file, or the name of a shipped protocol
        (``"orientation_tuning"``, ``"sf_tuning"``, ``"contrast_latency"``,
        ``"marques2020_orientation"``, ``"natural_movie"``; see
        :func:`list_protocols`).
    size_px : int or (int, int), optional
        Render at this canvas size instead of the file's. For gratings the
        field of view in degrees is kept (pixels per degree change); for
        natural movies it sets the window size.
    render : bool
        If False, skip rendering (``stimuli`` is None; grating protocols still
        return their parameter table in ``params``).

    Returns
    -------
    Protocol
        With ``stimuli``, ``presentation`` (``n_trials``, ``blank_steps``,
        ``steps_per_frame``, ``ms_per_step``, ``response_window_ms``, ``seed``),
        ``params``, ``spec`` and ``path``. Unpacks as ``(stimuli, presentation)``.

    Raises
    ------
    ValueError
        If the file is not found or not valid TOML, has unknown keys (the
        message names the key, e.g. ``stimulus.orientationz``), missing
        required keys or bad values.
    """
    path = _resolve(path_or_name)
    try:
        with path.open("rb") as fh:
            spec = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"path_or_name: {path} is not valid TOML: {exc}") from exc
    _check_keys(spec, _TOP_KEYS, "")
    if "stimulus" not in spec:
        raise ValueError("stimulus: required table [stimulus] missing")
    name = spec.get("name", path.stem)
    description = spec.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError("name: 'name' and 'description' must be strings")
    presentation = _presentation(spec.get("presentation", {}))
    stimuli, params = _build(spec["stimulus"], spec.get("geometry", {}), presentation, size_px,
                             path.parent, render)
    if stimuli is not None:
        stimuli.meta.update(protocol=name, protocol_path=str(path))
    return Protocol(name=name, description=description, stimuli=stimuli,
                    presentation=presentation, params=params, spec=spec, path=path)
