"""The Ecker et al. (2010) comparison protocol: grids, windows, criteria (one place).

Every value here is a setting of :func:`neurofond.compare.compare_ecker2010`; the module
docstring of :mod:`neurofond.compare` describes what each one does. Windows are in ms re
stimulus onset and are applied to Responses with :class:`neurofond.responses.Window` (a bin
belongs to a window when it lies entirely inside it).
"""

from __future__ import annotations

import numpy as np

#: Baseline candidates understood by ``models`` (:data:`neurofond.models.BASELINES`, LCA
#: sparse coding :class:`neurofond.models.lca.LCABaseline` and the stimulus-parameter floor
#: :class:`neurofond.models.StimulusFloorBaseline`).
BASELINES = ("gabor-energy", "pixel-pca", "lca", "stimulus-floor")
ALL_SESSIONS = tuple(range(17))
QUICK_SESSIONS = (7, 10, 12)
MS_GRID = (2.0, 5.0, 10.0, 20.0)
QUICK_MS_GRID = (1.0, 3.0, 10.0)
#: Candidate factors from screen contrast to model input contrast (VAEs; fitted).
CONTRAST_GAINS = (1.0, 0.3, 0.1)
DELAYS_MS = tuple(float(d) for d in range(0, 81, 10))
QUICK_DELAYS_MS = tuple(float(d) for d in range(0, 81, 20))
#: Analysis windows (ms re stimulus onset).
PREDICTIVITY_WINDOW_MS = (0.0, 500.0)
TUNING_WINDOW_MS = (50.0, 500.0)
FANO_WINDOW_MS = (0.0, 500.0)
BASELINE_WINDOW_MS = (-150.0, 0.0)
LATENCY_SEARCH_MS = (0.0, 300.0)
PROPERTY_TIME_MS = (-200.0, 500.0)
DATA_BIN_MS = 10.0
#: Latency criterion (response_latency arguments).
LATENCY = {"criterion": "sd", "k": 3.0, "min_consecutive_bins": 2, "smooth_ms": 10.0}
FANO_MIN_COUNT = 1.0
#: LNP rates of the baseline channels (spikes/s).
BASELINE_R0_HZ, BASELINE_RMAX_HZ = 2.0, 30.0
BASELINE_STEP_MS = 5.0
MIN_VALUES = 3
#: Blank steps every VAE chain runs before a trial (its state relaxes from the prior to the
#: blank steady state; :meth:`neurofond.compare.VAECandidate.warm_state`).
WARMUP_STEPS = 600
#: Ridge penalties of the comparison (one per decade; absolute, on globally scaled features).
ALPHAS = tuple(float(a) for a in np.logspace(-3, 7, 11))
#: Inference chains (conditions x trials) advanced together in one VAE batch.
ROWS_PER_BATCH = 2048
#: Memory budget of one simulation chunk (bytes of step arrays).
SIM_BYTES = 128e6
REQUIRED_COLUMNS = ("model", "session", "n_units", "predictivity_raw", "ceiling",
                    "predictivity_ceiled", "ks_similarity_cv", "ks_similarity_fano",
                    "ks_similarity_latency")
#: property -> (column suffix, histogram bins); the first three are the required KS columns.
PROPERTIES = {
    "cv": ("circular_variance", np.linspace(0.0, 1.0, 11)),
    "fano": ("fano", np.linspace(0.0, 5.0, 21)),
    "latency": ("latency_shift_ms", np.arange(-60.0, 181.0, 20.0)),
    "osi": ("osi", np.linspace(0.0, 1.0, 11)),
    "bandwidth": ("bandwidth", np.linspace(0.0, 90.0, 10)),
    "onset_high": ("onset_high_ms", np.arange(0.0, 301.0, 20.0)),
    "contrast": ("contrast_index", np.linspace(-1.0, 1.0, 21)),
    "c50": ("c50", np.linspace(0.0, 1.0, 11)),
}
#: Fewest distinct contrasts for a Naka-Rushton fit (``c50``; fewer: NaN).
C50_MIN_CONTRASTS = 4
#: Noise correlations (per session, within-session pairs; the 0-500 ms counts of the Fano
#: window): r_sc criteria of :func:`neurofond.analysis.correlations.noise_correlations`, as in
#: ``analyses/correlations.py`` and the survey. The rate criterion applies to spike counts
#: only (activations of Gaussian-family candidates: 0, as in the survey).
RSC_MIN_TRIALS = 10
RSC_MIN_RATE_HZ = 1.0
#: pair property -> (column suffix, histogram bins of the KS similarity).
PAIR_PROPERTIES = {"r_sc": ("r_sc", np.linspace(-1.0, 1.0, 41))}
