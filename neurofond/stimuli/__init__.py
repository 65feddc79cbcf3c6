"""Visual stimuli for in-silico electrophysiology (numpy only).

- :mod:`~neurofond.stimuli.geometry`: :class:`ScreenGeometry` (degrees <-> pixels).
- :mod:`~neurofond.stimuli.base`: the :class:`Stimuli` container (frames + one parameter
  value per stimulus), :func:`concat`.
- :mod:`~neurofond.stimuli.apertures`: aperture windows (hard and raised-cosine discs).
- :mod:`~neurofond.stimuli.gratings`: static, drifting and counter-phase gratings, plaids,
  factorial sweeps.
- :mod:`~neurofond.stimuli.marques2020`: Brain-Score Marques2020 V1-property grids.
- :mod:`~neurofond.stimuli.movies`: natural movies from an image along a simulated
  eye-movement path; movies from arrays and video files.
- :mod:`~neurofond.stimuli.spatial_sweeps`: size (aperture) sweeps and cross-orientation
  plaids for spatial integration.
- :mod:`~neurofond.stimuli.rf_mapping`: sparse noise and Hubel & Wiesel bars (swept and
  flashed) for receptive-field mapping.
- :mod:`~neurofond.stimuli.protocols`: TOML protocol files -> stimuli + presentation; the
  shipped protocols are package data (``neurofond/data/protocols/*.toml``).

Luminance is in ``[0, 1]`` with mean gray 0.5 by default; frames are stored as
``(n_stimuli, n_frames, height, width)`` float32.
"""

from .apertures import aperture_window
from .base import Stimuli, concat
from .geometry import ScreenGeometry
from .gratings import (
    GRATING_PARAMS,
    counterphase_grating,
    drifting_grating_sweep,
    grating,
    grating_sweep,
    plaid,
    render_gratings,
)
from .marques2020 import (
    MARQUES2020_SETS,
    marques2020_geometry,
    marques2020_grid,
    marques2020_orientation_grid,
    marques2020_rf_grid,
    marques2020_sf_grid,
    marques2020_size_grid,
)
from .movies import (
    as_luminance,
    eye_movement_path,
    movie_from_array,
    movie_from_image,
    movie_from_video,
    natural_movie,
    pink_noise_image,
)
from .protocols import (
    PROTOCOL_DIR,
    STIMULUS_TYPES,
    Protocol,
    expand_values,
    list_protocols,
    load_protocol,
)
from .rf_mapping import POLARITIES, bar_positions_deg, bar_sweep, flashed_bars, sparse_noise
from .spatial_sweeps import cross_orientation_sweep, size_sweep

__all__ = [
    "ScreenGeometry",
    "GRATING_PARAMS",
    "Stimuli",
    "aperture_window",
    "concat",
    "counterphase_grating",
    "drifting_grating_sweep",
    "grating",
    "grating_sweep",
    "plaid",
    "render_gratings",
    "MARQUES2020_SETS",
    "marques2020_geometry",
    "marques2020_grid",
    "marques2020_orientation_grid",
    "marques2020_rf_grid",
    "marques2020_sf_grid",
    "marques2020_size_grid",
    "as_luminance",
    "eye_movement_path",
    "movie_from_array",
    "movie_from_image",
    "movie_from_video",
    "natural_movie",
    "pink_noise_image",
    "PROTOCOL_DIR",
    "STIMULUS_TYPES",
    "Protocol",
    "expand_values",
    "list_protocols",
    "load_protocol",
    "POLARITIES",
    "bar_positions_deg",
    "bar_sweep",
    "flashed_bars",
    "sparse_noise",
    "cross_orientation_sweep",
    "size_sweep",
]
