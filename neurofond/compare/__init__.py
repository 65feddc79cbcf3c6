"""The comparison engine: model neurons vs recorded macaque V1 units (Ecker et al. 2010 gratings).

:func:`compare` is the dataset-agnostic entry point (any recorded grating Responses;
:mod:`neurofond.compare.api`, files via :func:`write_outputs`, command ``neurofond compare``,
``docs/compare.md``); it runs the engine described below on the given sessions.

:func:`compare_ecker2010` runs candidates x recording sessions and returns tables;
``analyses/ecker2010_comparison.py`` is its command line (files and figures). Modules:
:mod:`~neurofond.compare.protocol` (grids, windows, criteria), :mod:`~neurofond.compare.sessions`
(recorded sessions, the assumed gratings), :mod:`~neurofond.compare.candidates` (VAEs and
baselines shown the gratings), :mod:`~neurofond.compare.resampling` (model time -> data
bins), :mod:`~neurofond.compare.scores` (predictivity, unit properties, KS similarity),
:mod:`~neurofond.compare.engine` (the run).

Every candidate (the iterative VAEs iP-VAE, iG-VAE, iGrelu-VAE and the baselines of
:mod:`neurofond.models`: Gabor energy, pixel/PCA, LCA sparse coding and the
stimulus-parameter floor) is shown the gratings
of each recording session (the session's orientations x its two contrasts) and compared
with the recorded units with the same analysis code (:mod:`neurofond.analysis`).

Recorded data
    :func:`neurofond.recordings.load_ecker2010` (static release; units with contamination
    < 0.05, the authors' criterion; monkey D orientations snapped to the 22.5-deg grid):
    17 sessions, 8 (or 7) orientations x 2 contrasts, 10-85 repetitions, 10 ms bins,
    500 ms gratings. ``quick`` uses sessions 7, 10 and 12 (contrast pairs 10/100 %,
    2/30 % and 20/50 %); ``--full`` all 17.

Stimuli (assumptions; the release does not document them)
    Full-field static sine-wave gratings with the parameters of
    :data:`neurofond.recordings.ecker2010.ECKER2010_STIMULUS` (the single source of truth,
    beside the reader; shared with the ``ecker2010-pls`` Brain-Score benchmark): SF 3
    cycles/deg, phase 0, mean gray 0.5, an 8-deg field rendered at 256 px; Michelson contrast =
    the session's contrast. VAE populations: one hypercolumn (K neurons) at the canvas centre,
    one 16-px model patch = 1 deg (``patch_size_deg``), linear (contrast-preserving)
    presentation transform. Each trial: a mean-gray blank, then the grating for the whole
    analysed period (the offset at 500 ms lies outside every analysis window).

1. Time-resolved predictivity (``predictivity_raw``, ``ceiling``, ``predictivity_ceiled``)
    Targets: each unit's trial-averaged PSTH over conditions x time bins (``bin_ms``:
    20 ms; 0-500 ms after onset). Features: the candidate's trial-averaged
    responses (VAEs: posterior-mean rates ``exp(u)`` / ``E[a(z)]`` of all K neurons) in
    the same bins.

    Fitted inside the training folds only (nested; :mod:`~neurofond.compare.nested`):
    the time scale (ms per model step; grid ``ms_grid`` = 1, 3, 10 quick, 1, 2, 5, 10, 20
    full), the response delay (``delays_ms`` = 0-80 ms in steps of 20 quick, 10 full) and
    the contrast gain (``contrast_gains`` = 1, 0.3, 0.1: model input contrast = gain x
    screen contrast). For every session and outer fold, each grid setting is scored by an
    inner K-fold CV over that fold's training conditions (median over units of the pooled
    inner held-out r, the ridge penalty per unit chosen by the inner squared error); the
    best setting is refitted on the fold's training conditions and predicts its test
    conditions, which took part in no choice. ``fits.json`` gives every fold's choice
    (``per_fold``) and per candidate the reported setting (used for the properties): the
    one with the best inner-CV score averaged over all session-folds, the fraction of folds
    that chose it (``agreement``), the most frequent choice and the median choices. The
    baselines have their own fixed time course (5-ms steps, gamma kernel; see
    :mod:`neurofond.models`), no gain (their features scale linearly with contrast) and get
    the same delay grid. Step responses are resampled onto
    the data bins by overlap (fractional step counts); a delay ``d`` maps model time ``t``
    to data time ``t + d``. VAE trials start from chains warmed up on the blank for
    :data:`~neurofond.compare.protocol.WARMUP_STEPS` (600) steps: the shipped iP-VAE
    relaxes from its prior over ~600 steps, and without the warm-up that relaxation, not
    the stimulus onset, set the time course in the window (the cause of the unrecovered
    time scale and delay of the earlier engine).

    Regression: ridge (penalty per unit by the inner K-fold CV over the training
    conditions, 3 folds quick, 5 full; the estimates of :class:`RidgePredictor`, tested)
    from the features (VAEs: their leading ``n_components`` = 32 principal components over
    the simulated steps, the kept variance in the fits; scaled by one global SD, constant
    features dropped) to every unit, cross-validated over **conditions**: K outer folds (4
    quick; the number of orientations in full), stratified by contrast, so all time bins
    of a condition are either in training or in test. Score per unit = Pearson r over the
    test samples (test conditions x time bins), averaged over folds; ``predictivity_raw``
    = Brain-Score aggregate (median over units per fold, mean over folds). Ceiling:
    split-half reliability of the same PSTHs (trials split in halves, r over conditions x
    time bins, Spearman-Brown, median over units, 10 splits; :func:`split_half_reliability`).
    ``predictivity_ceiled = max(raw, 0)**2 / ceiling`` (Brain-Score's convention,
    :func:`ceiled_score`; a negative raw score gives 0).

2. Single-unit properties, same code on data and models
    Model responses at the fitted time scale, delay and gain, resampled to the data's 10-ms bins
    from -200 to 500 ms (model spikes: iP-VAE counts; iG-VAE / iGrelu-VAE sampled
    activations ``a(z)``, iG-VAE half-wave rectified; baselines: Poisson spikes from the
    channel rate ``r0 + (r_max - r0) * response / response_ref`` with ``r0`` = 2 and
    ``r_max`` = 30 spikes/s, ``response_ref`` the channel's largest response to reference
    gratings at contrast 1 (16 orientations x 4 phases at the assumed SF), i.e. an LNP
    model). Rates are in spikes/s (model: per ms of the fitted time
    scale). Only responsive units / neurons enter the distributions: peak trial-averaged
    rate over conditions in 50-500 ms > baseline (-150-0 ms) + ``response_threshold_hz``
    (5, Marques et al. 2021's threshold, in the candidate's units).

    - Orientation tuning at the session's higher contrast, 50-500 ms:
      circular variance, OSI, bandwidth (:func:`orientation_selectivity`; Hanning
      smoothing only where the orientations are evenly spaced over 180 deg).
    - Fano factor of the counts in 0-500 ms (model: the model steps falling into 0-500 ms
      of data time), per condition (:func:`fano_factor`, ddof=0), averaged over the
      conditions with a mean count >= 1.
    - Contrast-dependent latency: onset latency (:func:`response_latency`, trial-averaged
      PSTH smoothed with a 10-ms Gaussian, baseline -150-0 ms, first of 2 consecutive bins
      above baseline + 3 SD, searched in 0-300 ms) at the preferred orientation (peak of
      the high-contrast tuning curve) at the low and the high contrast;
      ``latency_shift = onset(low) - onset(high)`` (ms; Albrecht et al. 2002).
    - Contrast response at the preferred orientation (:func:`~neurofond.compare.scores.
      contrast_measures`): ``contrast_index = (R_high - R_low) / (R_high + R_low)`` with
      ``R`` the evoked rate (50-500 ms) minus baseline, clipped at 0, at the highest and the
      lowest contrast (two contrasts per Ecker session allow no Naka-Rushton fit; Albrecht
      & Hamilton 1982; Sclar et al. 1990), and ``c50`` of a Naka-Rushton fit where a session
      has >= 4 contrasts (NaN otherwise, so ``ks_similarity_c50`` is NaN on the Ecker data).
    - Noise correlations r_sc (per pair, not per unit; :func:`~neurofond.compare.scores.
      pair_correlations`): :func:`neurofond.analysis.noise_correlations` on the 0-500 ms
      counts of every within-session pair (recorded units; the candidate's neurons shown
      that session's conditions), >= 10 trials and >= 1 spike/s per condition (no rate
      criterion for activations, the Gaussian-family VAEs, as in the survey).
      ``ks_similarity_r_sc`` (bins -1..1 step 0.05), ``mean_r_sc_data`` / ``_model`` and the
      pair counts are columns; ``summary.json`` gives the mean r_sc per candidate with a
      bootstrap CI over pairs.

    Distributions are compared with Brain-Score's KS similarity
    (:func:`ks_similarity_bootstrap`: ``1 - KS / KS_max`` on the data's histogram bins,
    bootstrap samples of as many model neurons as recorded units; ceiling = data vs
    bootstrap samples of itself). ``ks_similarity_cv``, ``ks_similarity_fano`` and
    ``ks_similarity_latency`` (the latency shift) are the raw similarities (in [0, 1]);
    ``*_ceiling`` and ``*_ceiled`` (= raw / ceiling) are extra columns. NaN (with the reason
    in ``notes``) when fewer than 3 recorded units or model neurons have a value. Bins:
    CV and OSI 0-1 step 0.1, bandwidth 0-90 step 10 deg, Fano 0-5 step 0.25, latency shift
    -60-180 step 20 ms, onset 0-300 step 20 ms (values outside go to the end bins).

Data licence: CC BY-NC-ND 3.0 (do not redistribute the data or arrays derived from them;
the outputs are summary statistics).
"""

from .api import compare, load_recordings, sessions_from_responses
from .candidates import BaselineCandidate, Candidate, VAECandidate, build_candidates, model_spikes
from .engine import (
    Comparison,
    compare_ecker2010,
    gather,
    is_spiking,
    pooled_pairs,
    session_pairs,
)
from .nested import FoldPlan, NestedRidge, fold_plan, reduce_features, scale_features
from .outputs import scorecard, write_outputs
from .protocol import BASELINES, PAIR_PROPERTIES, PROPERTIES, REQUIRED_COLUMNS
from .resampling import fano_step_mask, resample_matrix
from .scores import (
    ceiled,
    contrast_measures,
    ks_compare,
    mean_ci,
    nanmedian,
    pair_correlations,
    predictivity,
    unit_properties,
)
from .sessions import Session, load_sessions, render_conditions, stimulus_parameters

__all__ = [
    "BASELINES",
    "PAIR_PROPERTIES",
    "PROPERTIES",
    "REQUIRED_COLUMNS",
    "BaselineCandidate",
    "Candidate",
    "Comparison",
    "FoldPlan",
    "NestedRidge",
    "Session",
    "VAECandidate",
    "build_candidates",
    "ceiled",
    "compare",
    "compare_ecker2010",
    "contrast_measures",
    "fano_step_mask",
    "fold_plan",
    "gather",
    "is_spiking",
    "ks_compare",
    "load_recordings",
    "load_sessions",
    "mean_ci",
    "model_spikes",
    "nanmedian",
    "pair_correlations",
    "pooled_pairs",
    "predictivity",
    "reduce_features",
    "render_conditions",
    "resample_matrix",
    "scale_features",
    "scorecard",
    "session_pairs",
    "sessions_from_responses",
    "stimulus_parameters",
    "unit_properties",
    "write_outputs",
]
