"""Benchmark: neurofond ridge / PLS predictivity vs Brain-Score's ``pls`` and ``ridge`` metrics.

Synthetic, seeded data shaped like a model-vs-V1 comparison: ``--samples`` stimuli (1440,
the size of the Marques2020 orientation grid plus extra) x ``--units`` recorded units (300)
x ``--features`` model features (512 and 2048). Targets are a random linear map of the
features plus noise (median r of about 0.5 to 0.7).

For every feature count the script runs, on the same data and the same 10 shuffle splits
(90/10, ``random_state=1``: neurofond's :func:`condition_splits` reproduces Brain-Score's
``CrossValidation`` split for split):

- neurofond ``cross_validated_predictivity(model="pls")`` vs Brain-Score
  ``load_metric("pls", crossvalidation_kwargs=dict(stratification_coord=None))`` on
  ``NeuroidAssembly`` objects (scikit-learn ``PLSRegression(n_components=25, scale=False)``);
- neurofond ``model="ridge"`` with ``alphas=[1.0]`` vs Brain-Score ``load_metric("ridge")``
  (scikit-learn ``Ridge(alpha=1)``);
- neurofond ridge with its default nested cross-validation over 21 penalties (no Brain-Score
  counterpart; timed for reference).

It prints the wall times, the speed ratios and the score differences, and writes them to
``<out>/bench_predictivity[_quick].json``. ``--quick`` runs 512 features only with 3
splits. BLAS threads are set by ``--threads`` (default 1) for both implementations.

Usage::

    python benchmarks/bench_predictivity.py --quick
    python benchmarks/bench_predictivity.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

from neurofond._files import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--quick", action="store_true", help="512 features, 3 splits")
    parser.add_argument("--samples", type=int, default=1440)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--features", type=int, nargs="+", default=None)
    parser.add_argument("--splits", type=int, default=None)
    parser.add_argument("--noise", type=float, default=1.0, help="noise s.d. (signal s.d. 1)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: leave as is)")
    parser.add_argument("--skip-brainscore", action="store_true")
    parser.add_argument("--skip-ridge-cv", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.features is None:
        args.features = [512] if args.quick else [512, 2048]
    if args.splits is None:
        args.splits = 3 if args.quick else 10
    return args


def make_data(n_samples: int, n_features: int, n_units: int, noise: float, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    # correlated features (as model responses are): a random mixture of 64 latent drives
    latent = rng.normal(size=(n_samples, 64))
    X = latent @ rng.normal(size=(64, n_features)) / 8.0 + 0.5 * rng.normal(
        size=(n_samples, n_features)
    )
    W = rng.normal(size=(n_features, n_units)) / np.sqrt(n_features)
    signal = X @ W
    signal /= signal.std(axis=0)
    Y = signal + noise * rng.normal(size=signal.shape)
    return X, Y


def assemblies(X, Y):
    from brainscore_core.supported_data_standards.brainio.assemblies import NeuroidAssembly

    stim = [f"s{i:05d}" for i in range(X.shape[0])]

    def asm(values, prefix):
        return NeuroidAssembly(
            values,
            coords={
                "stimulus_id": ("presentation", stim),
                "image_index": ("presentation", list(range(len(stim)))),
                "neuroid_id": ("neuroid", [f"{prefix}{j:05d}" for j in range(values.shape[1])]),
                "region": ("neuroid", ["V1"] * values.shape[1]),
            },
            dims=["presentation", "neuroid"],
        )

    return asm(X, "f"), asm(Y, "n")


def raw_by_neuron(score, n_units: int):
    import numpy as np

    raw = score.attrs["raw"]
    ids = list(raw["neuroid_id"].values)
    order = [ids.index(f"n{j:05d}") for j in range(n_units)]
    return np.asarray(raw.transpose("split", "neuroid").values)[:, order]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    home = Path(tempfile.mkdtemp(prefix="bench_predictivity_"))
    os.environ.setdefault("BS_INSTALL_DEPENDENCIES", "no")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("RESULTCACHING_HOME", str(home / "result_caching"))
    os.environ.setdefault("BRAINSCORE_HOME", str(home / "brainscore"))

    import numpy as np
    from threadpoolctl import threadpool_limits

    from neurofond.analysis.predictivity import cross_validated_predictivity

    # The environment variables above come too late when numpy is already imported (the
    # neurofond import at the top loads it): limit the loaded BLAS pools at run time too.
    # Oversubscribed BLAS threads on a shared 2-core machine made both sides 30x slower.
    if args.threads > 0:
        threadpool_limits(limits=args.threads, user_api="blas")
        import torch

        torch.set_num_threads(args.threads)

    brainscore = None
    if not args.skip_brainscore:
        try:
            import brainscore_vision as brainscore
        except ImportError:
            print("brainscore_vision not importable: neurofond timings only")

    cv = dict(crossvalidation_kwargs=dict(stratification_coord=None, splits=args.splits))
    runs = []
    for n_features in args.features:
        X, Y = make_data(args.samples, n_features, args.units, args.noise, args.seed)
        run: dict = {"n_features": n_features}
        print(
            f"\n{args.samples} samples x {n_features} features -> {args.units} units, "
            f"{args.splits} splits"
        )
        for name, params in (("pls", None), ("ridge", {"alphas": [1.0]})):
            t0 = time.perf_counter()
            ds = cross_validated_predictivity(
                X, Y, model=name, model_params=params, n_splits=args.splits
            )
            t_nf = time.perf_counter() - t0
            entry = {
                "neurofond_s": t_nf,
                "neurofond_score": float(ds.score),
                "neurofond_error": float(ds.score_error),
            }
            line = f"{name:5s} neurofond {t_nf:8.2f} s  score {float(ds.score):.4f}"
            if brainscore is not None:
                source, target = assemblies(X, Y)
                metric = brainscore.load_metric(name, **cv)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    score = metric(source, target)
                    t_bs = time.perf_counter() - t0
                per_neuron = raw_by_neuron(score, args.units)
                entry.update(
                    brainscore_s=t_bs,
                    brainscore_score=float(score),
                    brainscore_error=float(score.attrs["error"]),
                    speed_ratio=t_bs / t_nf,
                    score_abs_diff=abs(float(ds.score) - float(score)),
                    max_abs_diff_r_per_neuron_split=float(
                        np.nanmax(np.abs(per_neuron - ds.pearson_r.values))
                    ),
                )
                line += (
                    f" | brainscore {t_bs:8.2f} s  score {float(score):.4f} | "
                    f"{t_bs / t_nf:5.1f}x faster, |score diff| {entry['score_abs_diff']:.1e}, "
                    f"max |r diff| {entry['max_abs_diff_r_per_neuron_split']:.1e}"
                )
            print(line)
            run[name] = entry
        if not args.skip_ridge_cv:
            t0 = time.perf_counter()
            ds = cross_validated_predictivity(X, Y, model="ridge", n_splits=args.splits)
            t_cv = time.perf_counter() - t0
            alphas, counts = np.unique(ds.alpha.values, return_counts=True)
            run["ridge_nested_cv"] = {
                "neurofond_s": t_cv,
                "neurofond_score": float(ds.score),
                "neurofond_error": float(ds.score_error),
                "alphas_chosen": {f"{a:g}": int(c) for a, c in zip(alphas, counts)},
                "note": "21 penalties, 5 inner folds over conditions, per-unit penalty",
            }
            print(f"ridge nested CV neurofond {t_cv:8.2f} s  score {float(ds.score):.4f}")
        runs.append(run)

    result = {
        "mode": "quick" if args.quick else "full",
        "shape": {"samples": args.samples, "units": args.units, "features": args.features},
        "splits": args.splits,
        "noise_sd": args.noise,
        "seed": args.seed,
        "blas_threads": args.threads or "default",
        "runs": runs,
        "versions": _versions(),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
    }
    out = args.out
    if out.suffix != ".json":
        out = out / ("bench_predictivity_quick.json" if args.quick else "bench_predictivity.json")
    atomic_write_json(out, result)
    print(f"wrote {out}")
    return result


def _versions() -> dict:
    import numpy as np
    import scipy
    import sklearn

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    try:
        from importlib.metadata import version

        versions["brainscore-vision"] = version("brainscore-vision")
    except Exception:  # noqa: BLE001 - optional
        pass
    return versions


if __name__ == "__main__":
    main()
