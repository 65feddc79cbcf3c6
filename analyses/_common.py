"""Shared plumbing of the in-silico experiment scripts in ``analyses/``.

Not an experiment itself: checkpoint resolution, the common command line
(``--checkpoint``, ``--out``, ``--seed``, ``--full`` ...), atomic writers for
JSON / CSV / PNG, and small helpers that turn model responses into
``Responses`` arrays the :mod:`neurofond.analysis` functions accept.

Checkpoint names
----------------
Every script takes ``--checkpoint NAME_OR_PATH`` (repeatable). A value is, in
order: a path to a ``.safetensors`` checkpoint; the name of a shipped model
(:func:`neurofond.pretrained.list_pretrained`); or, for development before the
models are shipped, ``runs/<NAME>.safetensors`` of this repository.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

#: The shipped models (neurofond/pretrained), one per family.
SHIPPED = ("ipvae-k512-b24-photos", "igvae-k512-b8-photos", "igrelu-k512-b8-photos")
DEFAULT_IPVAE = SHIPPED[0]

#: Short key of each model family, used as the key of the results tables.
FAMILY_KEYS = {"poisson": "ipvae", "gaussian": "igvae", "gaussian_relu": "igrelu"}
FAMILY_LABELS = {"poisson": "iP-VAE", "gaussian": "iG-VAE", "gaussian_relu": "iGrelu-VAE"}
COLORS = {"ipvae": "C3", "igvae": "C0", "igrelu": "C2"}


# --------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """A resolved checkpoint: where it is, what it is, and its short key."""

    spec: str
    path: Path
    name: str
    family: str
    key: str = ""

    @property
    def label(self) -> str:
        return f"{FAMILY_LABELS.get(self.family, self.family)} ({self.name})"


def resolve_checkpoint(spec: str | os.PathLike) -> Checkpoint:
    """Find a checkpoint by path, shipped name or ``runs/<name>.safetensors``.

    Raises
    ------
    ValueError
        If nothing matches (the message lists the shipped names).
    """
    from neurofond.fond.checkpoint import read_metadata
    from neurofond.pretrained import list_pretrained

    spec = str(spec)
    path = Path(spec).expanduser()
    shipped = {row["name"]: Path(row["path"]) for row in list_pretrained()}
    if path.suffix == ".safetensors" or path.exists():
        if not path.exists():
            raise ValueError(f"checkpoint: {path} does not exist")
    elif spec in shipped:
        path = shipped[spec]
    elif (REPO_ROOT / "runs" / f"{spec}.safetensors").exists():
        path = REPO_ROOT / "runs" / f"{spec}.safetensors"
        print(f"note: {spec} is not shipped yet; using {path}", file=sys.stderr)
    else:
        raise ValueError(f"checkpoint: {spec!r} is neither a checkpoint file nor a shipped "
                         f"model (shipped: {sorted(shipped) or 'none'}; runs/{spec}.safetensors "
                         f"does not exist either)")
    meta = read_metadata(path)
    family = meta["model_config"]["family"]
    return Checkpoint(spec=spec, path=path.resolve(), name=path.stem, family=family)


def resolve_checkpoints(specs: Iterable[str | os.PathLike]) -> list[Checkpoint]:
    """Resolve several checkpoints and give each a unique result key.

    The key is the family key (``ipvae``, ``igvae``, ``igrelu``) when that
    family occurs once, else the checkpoint's file stem.
    """
    cks = [resolve_checkpoint(s) for s in specs]
    if not cks:
        raise ValueError("checkpoint: give at least one checkpoint")
    families = [c.family for c in cks]
    used: set[str] = set()
    for c in cks:
        key = FAMILY_KEYS.get(c.family, c.family) if families.count(c.family) == 1 else c.name
        base, i = key, 2
        while key in used:
            key, i = f"{base}-{i}", i + 1
        used.add(key)
        c.key = key
    return cks


def default_all_models() -> list[str]:
    """Shipped model names (all of them), or the three default names if none is shipped."""
    from neurofond.pretrained import list_pretrained

    names = [row["name"] for row in list_pretrained()]
    return names or list(SHIPPED)


def load_population(ck: Checkpoint, **kwargs: Any):
    """An :class:`~neurofond.population.InSilicoPopulation` of a resolved checkpoint."""
    from neurofond.population import InSilicoPopulation

    kwargs.setdefault("name", ck.name)
    return InSilicoPopulation.from_checkpoint(ck.path, **kwargs)


def load_model(ck: Checkpoint):
    """``(model, preprocessing, summary)`` of a resolved checkpoint."""
    from neurofond.fond.checkpoint import load_checkpoint

    model, prep, summary = load_checkpoint(ck.path)
    return model.eval(), prep, summary


# --------------------------------------------------------------------------- command line


def parser(doc: str | None, *, default_out: str) -> argparse.ArgumentParser:
    """The options every experiment shares (the script adds its own)."""
    first = (doc or "").strip().splitlines()[0] if doc else None
    ap = argparse.ArgumentParser(description=first, epilog="See the module docstring and "
                                 "docs/insilico.md for the protocol.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default=default_out, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0, help="seed of stimuli and spike sampling")
    ap.add_argument("--full", action="store_true",
                    help="paper-scale settings (slow); default: fast settings")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return ap


def setup_torch(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def pick(value: Any, quick: bool, fast: Any, full: Any) -> Any:
    """``value`` when given, else the fast or the full default."""
    if value is not None:
        return value
    return fast if quick else full


def main_wrapper(run_from_args) -> int:
    """Run ``run_from_args()`` and print where the results went."""
    t0 = time.perf_counter()
    result_paths = run_from_args()
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for p in result_paths or ():
        print(p)
    return 0


# --------------------------------------------------------------------------- writers


def out_dir(out: str | os.PathLike) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomic JSON (NaN written as null)."""
    from neurofond.fond.checkpoint import write_json_atomic

    write_json_atomic(path, clean(data))
    return Path(path)


def _atomic_bytes(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Atomic CSV of dict rows (NaN / None as empty cells)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_cell(r.get(k)) for k in columns})
    return _atomic_bytes(Path(path), buf.getvalue().encode())


def _csv_cell(v: Any) -> Any:
    v = clean(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Atomic PNG; closes the figure."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return _atomic_bytes(Path(path), buf.getvalue())


def provenance(ck: Checkpoint | None = None, **settings: Any) -> dict[str, Any]:
    """Settings plus where the model came from (recorded in every results file)."""
    import neurofond

    info: dict[str, Any] = {"neurofond_version": getattr(neurofond, "__version__", "unknown"),
                            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if ck is not None:
        info.update(checkpoint=str(ck.path), model_name=ck.name, family=ck.family)
    info.update(settings)
    return info


# --------------------------------------------------------------------------- statistics


def distribution(values: Any) -> dict[str, Any]:
    """n, median, IQR (q25, q75), mean of the finite values."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "median": None, "q25": None, "q75": None, "iqr": None, "mean": None}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"n": int(v.size), "median": float(med), "q25": float(q25), "q75": float(q75),
            "iqr": float(q75 - q25), "mean": float(v.mean())}


def nonnegative(values: np.ndarray, family: str) -> np.ndarray:
    """Responses usable as firing rates: iG-VAE activations are half-wave rectified.

    iP-VAE counts and iGrelu-VAE activations are already >= 0; the linear
    iG-VAE has signed activations, which the rate-based analyses (tuning,
    selectivity) cannot take, so they are rectified, ``max(a, 0)``.
    """
    if family == "gaussian":
        return np.maximum(values, 0.0)
    return values


def window_responses(pop, stim, *, n_trials: int, blank_steps: int, stimulus_steps: int,
                     window_steps: tuple[int, int], measure: str = "rates",
                     baseline_steps: int = 0, seed: int = 0, chunk: int = 256,
                     batch_size: int = 2048, progress: bool = True) -> tuple[Any, np.ndarray]:
    """Present ``stim`` and keep one response per (trial, stimulus, neuron): the window sum.

    Presents in chunks of ``chunk`` stimuli and records only the steps of
    the response window (and the last ``baseline_steps`` blank steps), so
    memory stays bounded for large grids.

    Parameters
    ----------
    measure : {"rates", "spikes"}
        ``"rates"``: the posterior-mean response per step (expected spike
        count ``exp(u)`` for iP-VAE, ``E[a(z)]`` for the Gaussian models),
        summed over the window - noise-free readout; ``"spikes"``: the
        sampled counts (activations). iG-VAE values are rectified
        (:func:`nonnegative`).
    window_steps : (first, last)
        Steps after onset summed (inclusive first, exclusive last).

    Returns
    -------
    responses : xarray.DataArray
        A ``Responses`` array with one time bin spanning the window
        (``bin_ms`` = window duration), so ``tuning_curve`` gives rates in
        response units per second.
    baseline : ndarray (neuron,)
        Mean response per step over the recorded blank steps (trials and
        stimuli averaged); zeros when ``baseline_steps`` is 0.
    """
    from tqdm.auto import tqdm

    from neurofond.responses import make_responses

    if measure not in ("rates", "spikes"):
        raise ValueError(f"measure: expected 'rates' or 'spikes', got {measure!r}")
    w0, w1 = int(window_steps[0]), int(window_steps[1])
    if not 0 <= w0 < w1 <= stimulus_steps:
        raise ValueError(f"window_steps: expected 0 <= first < last <= {stimulus_steps}, got "
                         f"{window_steps!r}")
    baseline_steps = min(int(baseline_steps), int(blank_steps))
    rec = list(range(-baseline_steps, 0)) + list(range(w0, w1))
    family = pop.model.config.family
    n, k = len(stim), pop.n_units
    sums = np.zeros((n_trials, n, k), dtype=np.float64)
    base = np.zeros(k, dtype=np.float64)
    coords = None
    bar = tqdm(total=n, desc=f"present {pop.name}", unit="stim", disable=not progress,
               leave=False)
    for s0 in range(0, n, chunk):
        sub = stim.select(slice(s0, s0 + chunk))
        out = pop.present(sub, n_trials=n_trials, blank_steps=blank_steps,
                          stimulus_steps=stimulus_steps, seed=seed + s0,
                          batch_size=batch_size, progress=False, record_steps=rec,
                          return_rates=(measure == "rates"))
        da = out["rates"] if measure == "rates" else out
        vals = nonnegative(np.asarray(da.values, dtype=np.float64), family)
        steps = np.asarray(da["step"].values)
        sums[:, s0:s0 + len(sub)] = vals[..., steps >= 0].sum(-1)
        if baseline_steps:
            base += vals[..., steps < 0].sum(axis=(0, 1, 3))
        if coords is None:
            coords = {c: np.asarray(da[c].values) for c in da.coords
                      if da[c].dims == ("neuron",)}
        bar.update(len(sub))
    bar.close()
    if baseline_steps:
        base /= n_trials * n * baseline_steps
    ms = pop.ms_per_step
    resp = make_responses(sums[..., None], bin_ms=(w1 - w0) * ms,
                          stimulus_coords=stim.coords(), neuron_coords=coords,
                          time_start_ms=w0 * ms, source=f"model:{pop.name}",
                          attrs={"measure": measure, "ms_per_step": ms,
                                 "units": ("expected spikes per window" if measure == "rates"
                                           else "spikes per window")})
    return resp, base
