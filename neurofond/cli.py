"""Command-line interface: ``neurofond <command>``.

Commands
--------
train       train an iP-VAE / iG-VAE / iGrelu-VAE on natural image patches
evaluate    R^2, R^2_map, zeros and convergence of a checkpoint
pretrained  list the shipped pretrained populations
run         the main job: evaluate the shipped population and write a report
datasets    dataset cards, checksums and downloads (when available)
score       local Brain-Score benchmarks (Ecker 2010 PLS, orientation properties)
brainscore  Brain-Score submission plugin export
sweep       population and training sweeps on dask.distributed (zarr stores)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _load_config_file(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise SystemExit(f"--config: {p} does not exist")
    text = p.read_text()
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SystemExit(f"--config: {p} is not valid {p.suffix[1:].upper()}: {exc}") from exc
    unknown = sorted(set(data) - {"model", "train", "data"})
    if unknown:
        raise SystemExit(f"--config: unknown sections {unknown}; expected model, train, data")
    return data


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from .fond import ModelConfig, TrainConfig, make_patch_data, train

    cfg = _load_config_file(args.config)
    model_kw = dict(cfg.get("model", {}))
    train_kw = dict(cfg.get("train", {}))
    data_kw = dict(cfg.get("data", {}))
    family = args.family or model_kw.pop("family", "poisson")
    model_kw.pop("family", None)
    for flag, key in (("beta", "beta"), ("n_latents", "n_latents"), ("t_train", "t_train"),
                      ("kl_variant", "kl_variant")):
        if getattr(args, flag) is not None:
            model_kw[key] = getattr(args, flag)
    for flag in ("epochs", "batch_size", "lr", "seed", "max_steps", "eval_every",
                 "checkpoint_every"):
        if getattr(args, flag) is not None:
            train_kw[flag] = getattr(args, flag)
    for flag in ("n_train", "n_validation", "min_patch_std"):
        if getattr(args, flag) is not None:
            data_kw[flag] = getattr(args, flag)
    if args.validation_images:
        data_kw["validation_images"] = [int(v) if v.isdigit() else v
                                        for v in args.validation_images]
    if args.no_fit_prior:
        model_kw["fit_prior"] = False
    if args.no_whiten:
        data_kw["whiten_images"] = False
    if args.no_lcn:
        data_kw["lcn"] = False
    source = args.data or data_kw.pop("source", "bundled")
    data_kw.pop("source", None)
    try:
        model_cfg = ModelConfig.for_family(family, **model_kw)
        train_cfg = TrainConfig.from_dict(train_kw)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"train: {exc}") from exc
    if args.threads:
        torch.set_num_threads(args.threads)
    data = make_patch_data(source, patch_size=model_cfg.patch_size, seed=train_cfg.seed,
                           **data_kw)
    print(f"data: {data.train.shape[0]} training patches from {len(data.train_images)} images, "
          f"{data.validation.shape[0]} validation patches from {data.validation_images}",
          file=sys.stderr)
    command = "neurofond " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run = train(model_cfg, train_cfg, data.train, data.validation, data.preprocessing, args.out,
                name=args.name, device=args.device, resume=args.resume, restart=args.restart,
                progress=not args.no_progress, command=command)
    if run.already_finished:
        print(f"resume: {run.checkpoint} is already complete; nothing was changed",
              file=sys.stderr)
    final = run.history[-1] if run.history else {}
    print(json.dumps({"checkpoint": str(run.checkpoint), "seconds": round(run.seconds, 1),
                      **{k: final.get(k) for k in ("val_r2", "val_zeros", "loss")}}))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .fond import evaluate
    from .fond.data import heldout_patches, load_images
    from .fond.evaluate import check_device
    from .pretrained import load_model

    check_device(args.device)  # before loading anything
    model, prep, _ = load_model(args.checkpoint)
    if args.images:
        images = load_images(args.images)
        if args.no_whiten:  # already whitened images (e.g. Olshausen's): no second whitening
            prep = dataclasses.replace(prep, whiten=False)
        patches = prep.patches(list(images.values()), args.n_patches, args.seed)
    else:
        patches = heldout_patches(prep, args.n_patches, args.seed)
    result = evaluate(model, patches, n_steps=args.steps, batch_size=args.batch_size,
                      seed=args.seed, device=args.device, progress=not args.json)
    keys = ("r2", "r2_map", "r2_pooled", "zeros", "convergence_step", "distance",
            "spike_sampler")
    out = {k: result.summary[k] for k in keys}
    if args.json:
        print(json.dumps(out))
    else:
        for k in keys:
            print(f"{k:>18}: {out[k]:.4f}" if isinstance(out[k], float) else f"{k:>18}: {out[k]}")
    return 0


def _card_line(card: dict | None) -> str:
    """One-line summary of a model card (Gabor fraction, held-out evaluation)."""
    if not card:
        return "  (no model card)"
    parts = []
    frac = card.get("dictionary", {}).get("gabor_fraction")
    if frac is not None:
        parts.append(f"Gabor-like {100 * frac:.1f}%")
    for key, label in (("heldout_photos", "photos"), ("olshausen_8_9", "Olshausen 8-9")):
        ev = card.get("evaluation", {}).get(key)
        if ev:
            parts.append(f"{label}: R^2 {ev['r2']:.3f} zeros {ev['zeros']:.3f} "
                         f"dist {ev['distance']:.3f} drift {ev['drift']:+.3f} "
                         f"sparsif. {ev['sparsification']:+.3f}")
    tr = card.get("training", {})
    if tr.get("optimiser_steps") is not None:
        wall = tr.get("wall_seconds")
        parts.append(f"{tr['optimiser_steps']} steps"
                     + (f", {wall / 60:.0f} min" if wall else "")
                     + (f", seed {tr['seed']}" if tr.get("seed") is not None else ""))
    return "  " + "; ".join(parts)


def _cmd_pretrained(args: argparse.Namespace) -> int:
    from .pretrained import list_pretrained

    rows = list_pretrained(seeds=True)  # seed replicas listed after their model
    if args.card:
        match = [r for r in rows if r["name"] == args.card]
        if not match:
            raise ValueError(f"--card: unknown pretrained model {args.card!r}; available: "
                             f"{[r['name'] for r in rows]}")
        print(json.dumps(match[0]["card"], indent=2))
        return 0
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<28} {row['model']:<11} K={row['n_latents']:<4} "
              f"beta={row['beta']:<5} {row['description']}")
        print(_card_line(row["card"]))
    return 0


_NOT_SET = object()


def _cmd_run(args: argparse.Namespace) -> int:
    import signal

    from .report import run_main_job

    mode = args.mode or ("full" if args.full else "quick")
    recordings = None if args.no_recordings else (args.recordings or "auto")
    # the command as parsed (every option spelled out), so the report can be re-run exactly
    words = ["neurofond", "run", "--out", args.out, "--mode", mode, "--seed", str(args.seed)]
    for flag, value in (("--models", args.models), ("--sections", args.sections)):
        if value:
            words += [flag, *value]
    for flag, value in (("--recordings", args.recordings), ("--steps", args.steps),
                        ("--n-patches", args.n_patches)):
        if value is not None:
            words += [flag, str(value)]
    words += [flag for flag, on in (("--no-recordings", args.no_recordings),
                                    ("--overwrite", args.overwrite)) if on]
    if args.device != "cpu":
        words += ["--device", args.device]
    command = shlex.join(words)
    # a terminated run removes its temporary folder (SIGTERM -> SystemExit unwinds it)
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = _NOT_SET
    try:
        path = run_main_job(args.out, models=args.models, recordings=recordings, mode=mode,
                            steps=args.steps, n_patches=args.n_patches,
                            sections=args.sections, seed=args.seed, device=args.device,
                            overwrite=args.overwrite, progress=not args.no_progress,
                            command=command)
    finally:
        if previous is not _NOT_SET:
            signal.signal(signal.SIGTERM, previous)
    print(f"report: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurofond", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a FOND model on natural image patches")
    p.add_argument("--config", help="TOML/JSON file with [model], [train], [data] sections")
    p.add_argument("--family", choices=["poisson", "gaussian", "gaussian_relu"])
    p.add_argument("--data", help="'bundled' (default), a folder of images or a .npy array")
    p.add_argument("--beta", type=float)
    p.add_argument("--n-latents", dest="n_latents", type=int)
    p.add_argument("--t-train", dest="t_train", type=int)
    p.add_argument("--kl-variant", dest="kl_variant", choices=["exact", "reference"])
    p.add_argument("--no-fit-prior", dest="no_fit_prior", action="store_true",
                   help="keep the prior (u0, xi0) at its initial value (not learned)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--eval-every", dest="eval_every", type=int)
    p.add_argument("--checkpoint-every", dest="checkpoint_every", type=int)
    p.add_argument("--n-train", dest="n_train", type=int)
    p.add_argument("--n-validation", dest="n_validation", type=int)
    p.add_argument("--validation-images", dest="validation_images", nargs="+",
                   help="names or indices of held-out images")
    p.add_argument("--no-whiten", action="store_true", help="images are already whitened")
    p.add_argument("--no-lcn", action="store_true", help="skip local contrast normalisation")
    p.add_argument("--min-patch-std", dest="min_patch_std", type=float,
                   help="reject near-flat patches below this std (default 0.25)")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument("--name", default="model", help="checkpoint name (default: model)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--resume", action="store_true",
                   help="continue <name>.trainer.safetensors (same settings; --max-steps or "
                   "--epochs may change and are recorded)")
    p.add_argument("--restart", action="store_true",
                   help="start from step 0, discarding an unfinished trainer state")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint (path or pretrained name)")
    p.add_argument("checkpoint")
    p.add_argument("--images", help="folder of images or .npy array (default: the held-out "
                   "bundled photos)")
    p.add_argument("--no-whiten", dest="no_whiten", action="store_true",
                   help="the --images are already whitened (e.g. the Olshausen images): skip "
                        "the checkpoint's whitening step, keep the rest of its preprocessing")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--n-patches", dest="n_patches", type=int, default=10_000)
    p.add_argument("--batch-size", dest="batch_size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("pretrained", help="list shipped pretrained models and their cards")
    p.add_argument("--json", action="store_true")
    p.add_argument("--card", metavar="NAME", help="print the full model card of NAME")
    p.set_defaults(func=_cmd_pretrained)

    p = sub.add_parser("run", help="main job: the in-silico suite (and, with recordings, the "
                       "comparisons) as one report: index.html + results.json")
    p.add_argument("--models", nargs="+", default=None, metavar="NAME_OR_PATH",
                   help="shipped model names or checkpoint paths (default: the shipped models)")
    p.add_argument("--recordings", default=None, metavar="PATH",
                   help="recorded data for the comparison and Brain-Score sections (default: "
                   "the Ecker 2010 gratings where the dataset registry finds them)")
    p.add_argument("--no-recordings", dest="no_recordings", action="store_true",
                   help="skip the sections that need recordings")
    p.add_argument("--out", default="results", help="output folder (default: results); "
                   "a non-empty folder needs --overwrite")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="default sizes (6 min measured on a loaded 2-core machine)")
    size.add_argument("--full", action="store_true", help="the analyses/ scripts' sizes (slow)")
    size.add_argument("--mode", choices=["quick", "full", "tiny"], default=None,
                      help=argparse.SUPPRESS)  # tiny: for tests
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's report in --out (the new one is built in a "
                   "temporary folder and swapped in; other files are never removed)")
    p.add_argument("--sections", nargs="+", default=None, metavar="NAME",
                   help="run only these sections (default: all; an unknown name lists them)")
    p.add_argument("--steps", type=int, default=None,
                   help="inference steps of the convergence section (default: by mode)")
    p.add_argument("--n-patches", dest="n_patches", type=int, default=None,
                   help="held-out patches of the convergence section (default: by mode)")
    p.add_argument("--seed", type=int, default=0, help="seed of stimuli, patches and spikes")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--no-progress", dest="no_progress", action="store_true")
    p.set_defaults(func=_cmd_run)

    from .datasets import register_cli

    register_cli(sub)
    from .brainscore.cli import register_cli as register_brainscore_cli

    register_brainscore_cli(sub)
    from .pretrained.official import register_cli as register_official_cli

    register_official_cli(sub)
    from .compare.cli import register_cli as register_compare_cli

    register_compare_cli(sub)
    from .sweep.cli import register_cli as register_sweep_cli

    register_sweep_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"neurofond {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
