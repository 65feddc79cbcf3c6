"""Sparse coding by the Locally Competitive Algorithm (LCA), a baseline V1 candidate.

Sparse coding (Olshausen & Field 1996) represents an image patch ``x`` (``D`` pixels) by
coefficients ``a`` (``K`` elements) of a dictionary ``Phi`` (``D x K``, unit-norm columns)
that minimise the lasso energy

    ``E(a) = 1/2 ||x - Phi a||^2 + lam ||a||_1``.

The Locally Competitive Algorithm (Rozell, Johnson, Baraniuk & Olshausen 2008, Neural
Computation 20:2526) finds the minimiser with the dynamics of ``K`` leaky, mutually
inhibiting units: internal states ``u`` driven by ``b = Phi' x``, outputs the soft
threshold ``a = T_lam(u) = sign(u) max(|u| - lam, 0)``, and inhibition through the
dictionary's Gram matrix ``G = Phi' Phi``:

    ``tau du/dt = b - u - (G - I) a``.

Its fixed points are the lasso solutions (the KKT conditions ``Phi'(x - Phi a) = lam
sign(a)`` on the active set, ``|Phi'(x - Phi a)| <= lam`` elsewhere), and ``E`` does not
increase along the trajectory (Rozell et al. 2008, sec. 3). :func:`lca_codes` integrates
the dynamics by forward Euler with step ``dt / tau``.

:func:`learn_dictionary` learns ``Phi`` on the same patches as the shipped iterative VAEs
(:func:`neurofond.fond.data.make_patch_data`: the bundled photos, whitened, z-scored, local
contrast normalised, 16 x 16 px) with ``K = 512``: minibatch gradient descent on ``E`` with
the LCA codes held fixed, columns renormalised after every step (Olshausen & Field 1997).

:class:`LCABaseline` is the comparison candidate: one patch at the canvas centre (one
hypercolumn, ``patch_size_deg`` degrees, shown through the same linear presentation
transform as a VAE population), coded by LCA at convergence; the signed codes are its
regression features and their half-wave rectified ON and OFF parts its ``2 K`` LNP
channels (:class:`~neurofond.models.base.BaselineModel`; same ``present() -> Responses``).
The shipped dictionary is ``lca-k512-photos`` (:func:`load_lca`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_positive, check_random_state
from .base import BaselineModel, static_frames

__all__ = ["LCABaseline", "LCA_NAME", "learn_dictionary", "lca_codes", "lca_energy",
           "load_lca", "save_lca", "soft_threshold"]

#: Name of the shipped LCA dictionary (``neurofond/pretrained/<name>.safetensors``).
LCA_NAME = "lca-k512-photos"


def soft_threshold(u: np.ndarray, lam: float, nonnegative: bool = False) -> np.ndarray:
    """``T_lam(u) = sign(u) max(|u| - lam, 0)`` (``max(u - lam, 0)`` if ``nonnegative``)."""
    if nonnegative:
        return np.maximum(u - lam, 0.0)
    return np.sign(u) * np.maximum(np.abs(u) - lam, 0.0)


def _check_dictionary(phi: Any) -> np.ndarray:
    phi = np.asarray(phi)
    if phi.ndim != 2 or min(phi.shape) < 1:
        raise ValueError(f"dictionary: expected a (D, K) matrix, got shape {phi.shape}")
    if not np.all(np.isfinite(phi)):
        raise ValueError("dictionary: contains NaN or infinite values")
    return phi


def _check_patches(x: Any, d: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"patches: expected (n, {d}) flattened patches, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("patches: contains NaN or infinite values")
    return x


def lca_energy(patches: Any, dictionary: Any, codes: Any, lam: float) -> np.ndarray:
    """Lasso energy ``1/2 ||x - Phi a||^2 + lam ||a||_1`` per patch, shape ``(n,)``."""
    phi = _check_dictionary(dictionary)
    x = _check_patches(patches, phi.shape[0]).astype(np.float64)
    a = np.asarray(codes, dtype=np.float64).reshape(x.shape[0], phi.shape[1])
    r = x - a @ phi.T
    return 0.5 * (r * r).sum(1) + float(lam) * np.abs(a).sum(1)


def lca_codes(patches: Any, dictionary: Any, lam: float, *, n_steps: int = 300,
              dt_tau: float = 0.1, nonnegative: bool = False, return_trace: bool = False,
              trace_every: int = 1, dtype: Any = np.float64):
    """LCA codes of ``patches`` (n, D) with ``dictionary`` (D, K), Rozell et al. (2008).

    Forward-Euler integration of ``tau du/dt = b - u - (G - I) a``, ``a = T_lam(u)``, from
    ``u = 0`` (see the module docstring).

    Parameters
    ----------
    patches : array (n, D) or (D,)
    dictionary : array (D, K)
        Columns are the elements (unit norm for the fixed point to be the lasso solution
        with penalty ``lam``; any norm gives the lasso of the scaled columns).
    lam : float
        Threshold = lasso penalty (> 0).
    n_steps : int
        Euler steps.
    dt_tau : float
        Step size ``dt / tau`` (stable below ``2 / max eigenvalue of G``).
    nonnegative : bool
        Rectified threshold (the non-negative lasso).
    return_trace : bool
        Also return the codes every ``trace_every`` steps, shape ``(n_rec, n, K)``.

    Returns
    -------
    ndarray (n, K) [, ndarray (n_rec, n, K)]
    """
    phi = _check_dictionary(dictionary).astype(dtype)
    x = _check_patches(patches, phi.shape[0]).astype(dtype)
    lam = check_positive(lam, "lam")
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    eta = check_positive(dt_tau, "dt_tau")
    b = x @ phi
    g = phi.T @ phi
    g[np.diag_indices_from(g)] -= 1.0  # G - I
    u = np.zeros_like(b)
    a = np.zeros_like(b)
    trace = []
    for t in range(n_steps):
        u += eta * (b - u - a @ g)
        a = soft_threshold(u, lam, nonnegative)
        if return_trace and (t + 1) % int(trace_every) == 0:
            trace.append(a.copy())
    return (a, np.stack(trace)) if return_trace else a


@dataclass
class DictionaryTraining:
    """What :func:`learn_dictionary` returns: the dictionary and how it was learned."""

    dictionary: np.ndarray  # (D, K) float32, unit-norm columns
    settings: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


def learn_dictionary(patches: Any, n_elements: int = 512, *, lam: float = 0.5,
                     n_updates: int = 3000, batch_size: int = 128, lr: float = 0.05,
                     lca_steps: int = 80, dt_tau: float = 0.1, seed: int = 0,
                     log_every: int = 100, progress: bool = False) -> DictionaryTraining:
    """Learn an LCA sparse-coding dictionary on flattened patches (n, D).

    Each update draws ``batch_size`` patches, codes them by :func:`lca_codes` (``lca_steps``
    Euler steps, float32) and takes a gradient step on the mean energy,
    ``Phi += lr * (x - Phi a) a' / batch_size``, then renormalises the columns to unit norm.
    Initial elements: random patches of the training set (unit norm).

    Returns
    -------
    DictionaryTraining
        The dictionary ``(D, K)``, the settings, the mean energy / reconstruction R^2 /
        fraction of active coefficients every ``log_every`` updates and the wall time.
    """
    x_all = np.asarray(patches, dtype=np.float32)
    if x_all.ndim != 2 or x_all.shape[0] < 2:
        raise ValueError(f"patches: expected (n, D) flattened patches, got {x_all.shape}")
    k = check_int(n_elements, "n_elements", minimum=1)
    n_updates = check_int(n_updates, "n_updates", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    rng = check_random_state(seed)
    t0 = time.perf_counter()
    phi = x_all[rng.choice(x_all.shape[0], k, replace=k > x_all.shape[0])].T.copy()
    phi += 0.01 * rng.standard_normal(phi.shape).astype(np.float32)
    phi /= np.linalg.norm(phi, axis=0, keepdims=True)
    hist: dict[str, list[float]] = {"update": [], "energy": [], "r2": [], "active": []}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_updates, desc="LCA dictionary", unit="update")
    for it in range(n_updates):
        x = x_all[rng.integers(0, x_all.shape[0], batch_size)]
        a = lca_codes(x, phi, lam, n_steps=lca_steps, dt_tau=dt_tau, dtype=np.float32)
        r = x - a @ phi.T
        phi += (lr / batch_size) * (r.T @ a)
        phi /= np.maximum(np.linalg.norm(phi, axis=0, keepdims=True), 1e-8)
        if (it + 1) % int(log_every) == 0 or it == n_updates - 1:
            hist["update"].append(it + 1)
            hist["energy"].append(float(np.mean(0.5 * (r * r).sum(1) + lam * np.abs(a).sum(1))))
            hist["r2"].append(float(1.0 - (r * r).sum() / (x * x).sum()))
            hist["active"].append(float((a != 0).mean()))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    settings = {"n_elements": k, "lam": float(lam), "n_updates": n_updates,
                "batch_size": batch_size, "lr": float(lr), "lca_steps": int(lca_steps),
                "dt_tau": float(dt_tau), "seed": int(seed), "n_patches": int(x_all.shape[0])}
    return DictionaryTraining(phi.astype(np.float32), settings, hist,
                              time.perf_counter() - t0)


def _lca_path(name_or_path: str | os.PathLike) -> Path:
    text = str(name_or_path)
    if text.endswith(".safetensors") or os.sep in text or "/" in text:
        path = Path(text)
    else:
        path = Path(__file__).resolve().parent.parent / "pretrained" / f"{text}.safetensors"
    if not path.is_file():
        raise ValueError(f"checkpoint: LCA dictionary {path} does not exist (shipped: "
                         f"{LCA_NAME})")
    return path


def save_lca(path: str | os.PathLike, dictionary: np.ndarray, *, lam: float,
             preprocessing: dict[str, Any], card: dict[str, Any]) -> Path:
    """Write the dictionary (safetensors, tensor ``dictionary`` (D, K)) and its JSON card.

    Both written atomically; the card (sidecar ``<stem>.json``) holds ``lam``, the
    preprocessing of the training patches and what :func:`learn_dictionary` reported.
    """
    from safetensors.numpy import save_file

    from .._files import atomic_path, atomic_write_json

    path = Path(path)
    meta = {"kind": "lca", "lam": repr(float(lam)),
            "preprocessing": json.dumps(preprocessing, sort_keys=True)}
    arr = np.ascontiguousarray(_check_dictionary(dictionary), dtype=np.float32)
    atomic_path(path, lambda tmp: save_file({"dictionary": arr}, str(tmp), metadata=meta))
    atomic_write_json(path.with_suffix(".json"),
                      {"kind": "lca", "lam": float(lam), "preprocessing": preprocessing,
                       "card": card})
    return path


def load_lca(name_or_path: str | os.PathLike = LCA_NAME) -> tuple[np.ndarray, float, Any, dict]:
    """``(dictionary (D, K), lam, Preprocessing, card)`` of a saved LCA dictionary.

    ``name_or_path``: the shipped name (:data:`LCA_NAME`) or a ``.safetensors`` path.
    """
    from safetensors import safe_open

    from ..fond.data import Preprocessing

    path = _lca_path(name_or_path)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        if meta.get("kind") != "lca":
            raise ValueError(f"checkpoint: {path} is not an LCA dictionary")
        phi = np.asarray(f.get_tensor("dictionary"))
    side = path.with_suffix(".json")
    card = json.loads(side.read_text())["card"] if side.is_file() else {}
    prep = Preprocessing.from_dict(json.loads(meta["preprocessing"]))
    return phi, float(meta["lam"]), prep, card


@dataclass
class LCABaseline(BaselineModel):
    """LCA sparse coding of the central patch: the paper's main comparator as an LNP model.

    Parameters
    ----------
    checkpoint : str
        Shipped name or ``.safetensors`` path of the dictionary (:func:`load_lca`).
    patch_size_deg : float
        Degrees covered by the model patch (as ``InSilicoPopulation(patch_size_deg=...)``).
    n_steps, dt_tau : int, float
        LCA integration (enough steps to converge: 300 x 0.1 ``tau``).
    mean : float
        Mean luminance (the background of the linear presentation transform).
    name : str
        Model name.
    ms_per_step, r0_hz, rmax_hz, reference_sf_cpd, tau_ms, kernel_order
        Keyword-only LNP settings (:class:`~neurofond.models.base.BaselineModel`).

    Notes
    -----
    Inputs: the canvas resampled to the model resolution, the linear (contrast-preserving)
    :class:`~neurofond.population.PresentationTransform` of the dictionary's
    preprocessing, the ``P x P`` patch at the canvas centre: what a VAE population with
    ``positions="center"`` sees. Features: the signed codes (K); channels of
    :meth:`present`: ON and OFF parts (``2 K``).
    """

    checkpoint: str = LCA_NAME
    patch_size_deg: float = 1.0
    n_steps: int = 300
    dt_tau: float = 0.1
    mean: float = 0.5
    name: str = "lca"

    def __post_init__(self) -> None:
        self.dictionary_, self.lam_, self.preprocessing_, self.card_ = load_lca(self.checkpoint)
        self.patch_size = int(self.preprocessing_.patch_size)
        if self.dictionary_.shape[0] != self.patch_size ** 2:
            raise ValueError("checkpoint: dictionary rows do not match the patch size")
        self._transform = None

    @property
    def n_elements(self) -> int:
        return int(self.dictionary_.shape[1])

    def patches(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Central model patches ``(n, P*P)`` of static stimuli (see the class notes)."""
        from ..population.tiling import cut_patches, tile_layout
        from ..population.transform import PresentationTransform

        geometry = geometry if geometry is not None else getattr(stimuli, "geometry", None)
        if geometry is None:
            raise ValueError("stimuli: LCABaseline needs Stimuli with a geometry (degrees)")
        frames = static_frames(stimuli)
        if self._transform is None:
            self._transform = PresentationTransform(self.preprocessing_, "linear",
                                                    background=float(self.mean))
        layout = tile_layout(geometry, patch_size=self.patch_size,
                             patch_size_deg=float(self.patch_size_deg), positions="center")
        return cut_patches(frames, layout, self._transform)[:, 0].astype(np.float64)

    def codes(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Signed LCA codes ``(n, K)`` of the central patch at convergence."""
        return lca_codes(self.patches(stimuli, geometry), self.dictionary_, self.lam_,
                         n_steps=self.n_steps, dt_tau=self.dt_tau)

    def features(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Regression features: the signed codes (:meth:`codes`)."""
        return self.codes(stimuli, geometry)

    def drive(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """ON and OFF channels ``[max(a, 0), max(-a, 0)]`` of the codes ``(n, 2 K)``."""
        a = self.codes(stimuli, geometry)
        return np.concatenate([np.maximum(a, 0.0), np.maximum(-a, 0.0)], axis=1)

    def neuron_coords(self) -> dict[str, np.ndarray]:
        """``element`` (dictionary column) and ``polarity`` (``"on"`` / ``"off"``)."""
        k = self.n_elements
        return {"element": np.tile(np.arange(k), 2),
                "polarity": np.repeat(np.array(["on", "off"]), k)}


def train_lca(out: str | os.PathLike, *, n_elements: int = 512, lam: float = 1.0,
              n_updates: int = 4000, batch_size: int = 128, lr: float = 0.05,
              lca_steps: int = 80, seed: int = 0, n_train: int = 100_000,
              n_eval: int = 2000, gabor: bool = True, progress: bool = False) -> dict[str, Any]:
    """Learn the shipped LCA dictionary and write it with its card (:func:`save_lca`).

    Patches: :func:`neurofond.fond.data.make_patch_data` with the shipped iP-VAE's settings
    (bundled photos, ``n_train`` = 100000, seed 0, 16 px; same preprocessing and held-out
    images). Card: the settings, wall time, training history, held-out reconstruction R^2
    and fraction of active coefficients (``n_eval`` validation patches, 300 LCA steps) and
    the Gabor-like fraction of the dictionary
    (:func:`neurofond.population.gabor_fraction`, R^2 >= 0.7).
    """
    from ..fond.data import make_patch_data

    data = make_patch_data("bundled", n_train=n_train, patch_size=16, seed=seed)
    tr = learn_dictionary(data.train, n_elements, lam=lam, n_updates=n_updates,
                          batch_size=batch_size, lr=lr, lca_steps=lca_steps, seed=seed,
                          progress=progress)
    val = data.validation[:n_eval].astype(np.float64)
    a = lca_codes(val, tr.dictionary, lam, n_steps=300)
    r = val - a @ tr.dictionary.T.astype(np.float64)
    r2 = 1.0 - (r * r).sum(1) / np.maximum((val * val).sum(1), 1e-12)
    card: dict[str, Any] = {
        "model": "LCA sparse coding (Rozell, Johnson, Baraniuk & Olshausen 2008)",
        "training": {**tr.settings, "wall_seconds": round(tr.seconds, 1),
                     "data": {"source": "bundled", "train_images": data.train_images,
                              "validation_images": data.validation_images},
                     "history": tr.history},
        "heldout_photos": {"n_patches": int(val.shape[0]), "lca_steps": 300,
                           "r2_mean": float(r2.mean()), "r2_median": float(np.median(r2)),
                           "active_fraction": float((a != 0).mean()),
                           "zeros": float((a == 0).mean())},
    }
    if gabor:
        from ..population.receptive_fields import gabor_fraction

        gf = gabor_fraction(tr.dictionary)
        card["dictionary"] = {"gabor_fraction": gf.fraction, "n_gabor": gf.n_gabor,
                              "n_considered": gf.n_considered, "r2_threshold": gf.r2_threshold}
    save_lca(out, tr.dictionary, lam=lam, preprocessing=data.preprocessing.to_dict(), card=card)
    return card
