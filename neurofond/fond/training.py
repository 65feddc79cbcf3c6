"""The learning loop: Adamax, schedules, gradient clipping, checkpoints, resume.

One optimiser step per batch, after backpropagating the mean per-step loss
through the whole unrolled inference trajectory (Vafaii, Galor & Yates 2025).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._files import atomic_write_json, save_safetensors_atomic
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ModelConfig, TrainConfig
from .data import Preprocessing
from .evaluate import evaluate
from .model import IterativeVAE
from .sampling import candidate_count
from .schedules import beta_at, clamp_at, learning_rate_at, temperature_at

__all__ = ["TrainingRun", "configure_cpu", "train"]


def configure_cpu() -> None:
    """Flush denormal floats (tiny early weights slow CPU steps 50-100x otherwise)."""
    np.finfo(np.float32), np.finfo(np.float64)  # cache limits before flushing (numpy warns)
    torch.set_flush_denormal(True)


@dataclass
class TrainingRun:
    """Result of :func:`train`: the model, its history and where files went."""

    model: IterativeVAE
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    seconds: float = 0.0
    already_finished: bool = False


def _optimizer(model: IterativeVAE, cfg: TrainConfig) -> torch.optim.Adamax:
    return torch.optim.Adamax(model.parameters(), lr=cfg.lr, betas=cfg.adam_betas,
                              eps=cfg.adam_eps, weight_decay=cfg.weight_decay)


# Settings that may change on resume: they do not alter the optimisation trajectory up to the
# step where the run resumes (schedule length, bookkeeping). Each change is recorded at step N
# in the summary ("schedule_changes"). Any other TrainConfig change is refused.
_RESUMABLE_CHANGES = ("max_steps", "epochs", "eval_every", "checkpoint_every", "eval_patches",
                      "extra")


def _data_fingerprint(x: np.ndarray) -> dict[str, Any]:
    """Number and SHA-256 of the training patches (float32 bytes): a resume must see the same."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    return {"n_patches": int(arr.shape[0]), "sha256": hashlib.sha256(arr.data).hexdigest()}


def _save_trainer_state(path: Path, model: IterativeVAE, opt: torch.optim.Optimizer,
                        generator: torch.Generator, step: int, n_candidates: int,
                        history: list[dict[str, Any]], data_seed_state: dict[str, Any], *,
                        train_config: TrainConfig | None = None, total: int | None = None,
                        train_seconds: float | None = None,
                        changes: list[dict[str, Any]] | None = None) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"opt.{i}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["generator_state"] = generator.get_state().cpu()
    # keys step .. model_config are the original format; the others were added (issue 17) and
    # are optional on reading, so trainer states of either version resume
    meta = {"step": str(step), "n_candidates": str(n_candidates),
            "history": json.dumps(history), "data": json.dumps(data_seed_state),
            "model_config": json.dumps(model.config.to_dict())}
    if train_config is not None:
        meta["train_config"] = json.dumps(train_config.to_dict())
    if total is not None:
        meta["total"] = str(total)
    if train_seconds is not None:
        meta["train_seconds"] = repr(float(train_seconds))
    if changes is not None:
        meta["changes"] = json.dumps(changes)
    save_safetensors_atomic(tensors, path, meta)


_RESTART_HINT = "pass --restart (restart=True) to discard it and start from step 0"


def _read_trainer_meta(path: Path) -> dict[str, Any]:
    """Parse and check a trainer state's header (no tensors loaded).

    Raises
    ------
    CheckpointError
        Unreadable (truncated, corrupt, foreign) file or malformed fields, naming the file.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"resume: trainer state {path} is not a readable safetensors file "
                              f"(truncated or corrupt?): {exc}; {_RESTART_HINT}") from exc
    meta: dict[str, Any] = {}
    for key, parse in (("step", int), ("n_candidates", int), ("history", json.loads),
                       ("data", json.loads), ("model_config", json.loads),
                       ("train_config", json.loads), ("total", int),
                       ("train_seconds", float), ("changes", json.loads)):
        if key not in raw:
            if key in ("step", "n_candidates", "history", "data", "model_config"):
                raise CheckpointError(f"resume: trainer state {path} lacks the field {key!r} "
                                      f"(not a neurofond trainer state?); {_RESTART_HINT}")
            continue
        try:
            meta[key] = parse(raw[key])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"resume: trainer state {path} has a malformed field {key!r}: "
                                  f"{exc}; {_RESTART_HINT}") from exc
    checks = (("step", lambda v: v >= 0), ("n_candidates", lambda v: v >= 1),
              ("history", lambda v: isinstance(v, list)), ("data", lambda v: isinstance(v, dict)),
              ("model_config", lambda v: isinstance(v, dict)),
              ("train_config", lambda v: isinstance(v, dict)), ("total", lambda v: v >= 1),
              ("train_seconds", lambda v: math.isfinite(v) and v >= 0),
              ("changes", lambda v: isinstance(v, list)))
    for key, ok in checks:
        if key in meta and not ok(meta[key]):
            raise CheckpointError(f"resume: trainer state {path} has an invalid field {key!r}: "
                                  f"{meta[key]!r}; {_RESTART_HINT}")
    return meta


def _legacy_seconds(history: list[dict[str, Any]]) -> float:
    """Training time of a trainer state that predates ``train_seconds``: the sum of the last
    ``seconds`` of each session (``seconds`` restarts from 0 at each resume)."""
    total, last = 0.0, 0.0
    for record in history:
        value = float(record.get("seconds", 0.0))
        if value < last:
            total += last
        last = value
    return total + last


def _check_resume_settings(path: Path, meta: dict[str, Any], cfg: TrainConfig, total: int,
                           data: dict[str, Any], model_config: ModelConfig
                           ) -> list[dict[str, Any]]:
    """Compare the run's settings with those in the trainer state.

    Returns the recordable changes (schedule length, bookkeeping) at the resumed step;
    raises ValueError naming the setting and both values for anything else.
    """
    if meta["model_config"] != json.loads(json.dumps(model_config.to_dict())):
        old, new = meta["model_config"], json.loads(json.dumps(model_config.to_dict()))
        diff = {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)}
        raise ValueError(f"resume: {path} was written for a different model config "
                         f"(trainer state vs now: {diff}); resume with the original settings")
    step = meta["step"]
    changes: list[dict[str, Any]] = []
    stored_data = meta["data"]
    for key in ("seed", "n_patches", "sha256"):
        if key in stored_data and stored_data[key] != data.get(key):
            what = "seed" if key == "seed" else "train_patches"
            raise ValueError(
                f"resume: {what} differs from the run in {path}: {key} was "
                f"{stored_data[key]!r}, now {data.get(key)!r}; the training data (--data, "
                f"--n-train, preprocessing flags, --seed) must match to resume")
    if "train_config" not in meta:  # trainer state written before settings were recorded
        warnings.warn(f"resume: {path} predates recorded training settings; only the model "
                      f"config and the seed were verified", stacklevel=3)
        changes.append({"step": step, "setting": "train_config", "old": None,
                        "new": json.loads(json.dumps(cfg.to_dict())),
                        "note": "trainer state predates recorded settings (not verified)"})
        return changes
    old_cfg = meta["train_config"]
    new_cfg = json.loads(json.dumps(cfg.to_dict()))
    for key in sorted(set(old_cfg) | set(new_cfg)):
        old, new = old_cfg.get(key), new_cfg.get(key)
        if old == new:
            continue
        if key not in _RESUMABLE_CHANGES:
            raise ValueError(
                f"resume: {key} differs from the run in {path}: it was {old!r}, now {new!r}. "
                f"Changing it mid-run would make the recorded settings wrong for the first "
                f"{step} steps; resume with {key}={old!r}, or start a new run under another "
                f"--name")
        changes.append({"step": step, "setting": key, "old": old, "new": new})
    old_total = meta.get("total")
    if old_total is not None and old_total != total:
        changes.append({"step": step, "setting": "total_steps", "old": old_total, "new": total})
    return changes


def _resume_reseed(seed: int, step: int) -> int:
    """Seed of the sampling generator for a run resumed on another device type at ``step``."""
    return int(np.random.SeedSequence([int(seed) + 1, int(step)]).generate_state(1)[0])


def _load_trainer_state(path: Path, model: IterativeVAE, opt: torch.optim.Optimizer,
                        generator: torch.Generator, *, seed: int = 0,
                        step: int = 0) -> dict[str, Any] | None:
    """Load the tensors of a trainer state (its header was checked by ``_read_trainer_meta``).

    Returns None, or the change record when the sampling generator's state came from another
    device type (a CUDA Philox state resumed on the CPU, or the reverse): that random stream
    cannot continue on this device, so the generator is reseeded from ``(seed + 1, step)``
    (reproducible, but not the draws an uninterrupted run on the first device would have
    made); weights, optimiser state and the data order continue exactly.
    """
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"resume: trainer state {path} tensors could not be read "
                              f"(truncated or corrupt?): {exc}; {_RESTART_HINT}") from exc
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"resume: trainer state {path} tensor {key!r} contains NaN "
                                  f"or inf; {_RESTART_HINT}")
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        state = opt.state_dict()
        for i in range(len(state["param_groups"][0]["params"])):
            keys = [k for k in tensors if k.startswith(f"opt.{i}.")]
            if keys:
                state["state"][i] = {k.split(".", 2)[2]: tensors[k] for k in keys}
        opt.load_state_dict(state)
        saved = tensors["generator_state"]
        if saved.numel() != generator.get_state().numel():  # saved on another device type
            reseed = _resume_reseed(seed, step)
            generator.manual_seed(reseed)
            return {"step": step, "setting": "sampling_generator",
                    "old": f"state of another device type ({saved.numel()} bytes)",
                    "new": f"{generator.device.type} generator reseeded with {reseed}",
                    "note": "resumed on another device type: the spike-sampling random "
                            "stream restarts here; weights, optimiser and data order continue"}
        generator.set_state(saved)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"resume: trainer state {path} does not match the model or "
                              f"optimiser: {exc}; {_RESTART_HINT}") from exc


def train(model_config: ModelConfig, train_config: TrainConfig, train_patches: np.ndarray,
          validation_patches: np.ndarray, preprocessing: Preprocessing, out_dir: str | Path, *,
          name: str = "model", device: str | torch.device = "cpu", resume: bool = False,
          restart: bool = False, progress: bool = True, command: str | None = None,
          on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> TrainingRun:
    """Train one model and write ``<out_dir>/<name>.safetensors`` (+ JSON sidecar).

    Parameters
    ----------
    model_config, train_config : configs
    train_patches, validation_patches : ndarray (N, D)
        Preprocessed, flattened patches.
    preprocessing : Preprocessing
        Stored in the checkpoint so evaluation applies the same transform.
    out_dir : path
        Receives the final checkpoint, periodic ``<name>.trainer.safetensors``
        (model, optimiser and generator state for ``resume``) and
        ``<name>.history.json``.
    device : str or torch.device
        ``"cpu"`` or ``"cuda"``; the same code runs on both.
    resume : bool
        Continue from ``<name>.trainer.safetensors``; it must exist (else
        :class:`FileNotFoundError`, and a finished checkpoint is never replaced),
        be readable (else :class:`CheckpointError` naming the file) and match
        this run: the model config, the training patches, the seed and every
        training setting except the schedule length (``max_steps``, ``epochs``)
        and bookkeeping (``eval_every``, ``checkpoint_every``, ``eval_patches``,
        ``extra``), whose changes are recorded at the resumed step in the
        summary's ``schedule_changes``; any other change raises ValueError
        naming the setting and both values. Resuming a finished run (trainer
        state at the last step, checkpoint present) changes nothing and returns
        the checkpoint with ``already_finished=True``.
    restart : bool
        Start from step 0 even if an unfinished trainer state exists
        (discarding it). Without ``resume`` or ``restart`` an existing trainer
        state is refused, so an interrupted run is never silently lost.
    progress : bool
        Show a tqdm progress bar.
    command : str, optional
        The command line that started the run, recorded in the checkpoint.
    on_epoch_end : callable, optional
        Called with each epoch's history record, after any periodic checkpoint
        (for logging; an exception raised there stops training, and ``resume``
        continues from the last trainer state).
    """
    cfg = train_config
    cfg.validate()  # the config may have been mutated since construction
    if resume and restart:
        raise ValueError("resume, restart: pass one of them (--resume continues the trainer "
                         "state, --restart discards it)")
    configure_cpu()
    out_dir = Path(out_dir)
    final_path = out_dir / f"{name}.safetensors"
    state_path = out_dir / f"{name}.trainer.safetensors"
    if final_path.exists() and not resume:
        raise FileExistsError(f"out_dir: {final_path} exists (a finished run); pick another "
                              f"--name, or --resume to continue it")
    if resume and not state_path.exists():
        if final_path.exists():
            raise FileNotFoundError(
                f"resume: {final_path} exists but its trainer state {state_path} is missing, "
                f"so the run cannot be continued; the checkpoint was left untouched. Train "
                f"under another --name to start a new run")
        raise FileNotFoundError(f"resume: no trainer state {state_path} to resume from; "
                                f"pass --restart (restart=True) to start from step 0")
    if not resume and not restart and state_path.exists():
        raise FileExistsError(f"out_dir: {state_path} holds an unfinished run; pass --resume to "
                              f"continue it or --restart to discard it and start from step 0")
    x_train = torch.as_tensor(np.asarray(train_patches), dtype=torch.float32)
    if x_train.ndim != 2 or x_train.shape[1] != model_config.n_inputs:
        raise ValueError(f"train_patches: expected shape (N, {model_config.n_inputs}), "
                         f"got {tuple(x_train.shape)}")
    if not torch.isfinite(x_train).all():
        raise ValueError("train_patches: contains NaN or infinite values")
    n = x_train.shape[0]
    per_epoch = n // cfg.batch_size
    if per_epoch < 1:
        raise ValueError(f"train_patches: {n} patches is fewer than batch_size={cfg.batch_size}")
    total = per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    data_state = {"seed": cfg.seed, **_data_fingerprint(x_train.numpy())}
    step, n_candidates, history = 0, cfg.candidates_init, []
    changes: list[dict[str, Any]] = []
    prior_seconds = 0.0
    if resume:
        meta = _read_trainer_meta(state_path)
        step, n_candidates, history = meta["step"], meta["n_candidates"], meta["history"]
        changes = list(meta.get("changes", []))
        new_changes = _check_resume_settings(state_path, meta, cfg, total, data_state,
                                             model_config)
        if step > total:
            raise ValueError(f"resume: {state_path} is at step {step}; the settings give "
                             f"{total} steps (max_steps={cfg.max_steps}, epochs={cfg.epochs}): "
                             f"a run cannot be shortened below the steps already taken")
        if step == total and final_path.exists():  # finished: nothing to do, nothing rewritten
            model, _, summary = load_checkpoint(final_path, device=device)
            return TrainingRun(model=model, history=history, checkpoint=final_path,
                               seconds=float(summary.get("train_seconds", 0.0)),
                               already_finished=True)
        for change in new_changes:
            if change["setting"] == "train_config":
                continue  # a trainer state of the original format: warned above
            warnings.warn(f"resume: {change['setting']} changed at step {change['step']}: "
                          f"{change['old']!r} -> {change['new']!r} (recorded in the summary)",
                          stacklevel=2)
        changes += new_changes
        prior_seconds = meta.get("train_seconds", _legacy_seconds(history))
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train = x_train.to(device)
    torch.manual_seed(cfg.seed)
    init_gen = torch.Generator().manual_seed(cfg.seed)
    model = IterativeVAE(model_config, generator=init_gen).to(device)
    opt = _optimizer(model, cfg)
    generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    if resume:
        device_change = _load_trainer_state(state_path, model, opt, generator,
                                            seed=cfg.seed, step=step)
        if device_change is not None:
            warnings.warn(f"resume: {state_path} was saved on another device type; "
                          f"{device_change['new']} at step {step} (recorded in the summary)",
                          stacklevel=2)
            changes.append(device_change)
    data_gen = torch.Generator().manual_seed(cfg.seed + 2)
    for _ in range(step // per_epoch):  # replay the permutation stream to the resumed epoch
        torch.randperm(n, generator=data_gen)
    order_epoch = step // per_epoch
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, desc=f"train {name}", unit="step")
    t0 = time.perf_counter()
    running: dict[str, float] = {}
    order = torch.randperm(n, generator=data_gen)
    while step < total:
        epoch, pos = divmod(step, per_epoch)
        if epoch != order_epoch:  # one fresh permutation of the patches per epoch
            order, order_epoch = torch.randperm(n, generator=data_gen), epoch
        idx = order[pos * cfg.batch_size:(pos + 1) * cfg.batch_size].to(device)
        x = x_train[idx]
        for group in opt.param_groups:
            group["lr"] = learning_rate_at(step, total, cfg)
        beta = beta_at(step, total, cfg, model_config)
        temp = temperature_at(step, total, cfg)
        model.clamp_c.fill_(clamp_at(step, total, cfg, model_config))
        loss, diag = model.training_loss(x, beta=beta, temperature=temp,
                                         n_candidates=n_candidates, generator=generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step}: loss {loss.item()}")
        opt.step()
        if model.is_poisson:
            n_candidates = candidate_count(float(diag["max_rate"]), cfg.candidates_tail_prob,
                                           minimum=1, maximum=cfg.candidates_max)
        step += 1
        _accumulate(running, loss=float(loss.detach()), nll=float(diag["nll"].mean()),
                    kl=float(diag["kl"].mean()), grad_norm=float(grad_norm))
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running['loss'] / running['_n']:.1f}",
                                beta=f"{beta:.2f}", temp=f"{temp:.3f}", n=n_candidates)
        end_of_epoch = step % per_epoch == 0 or step == total
        if end_of_epoch:
            epoch_done = math.ceil(step / per_epoch)
            record = {k: v / running["_n"] for k, v in running.items() if k != "_n"}
            record.update(epoch=epoch_done, step=step, beta=beta, temperature=temp,
                          lr=learning_rate_at(step - 1, total, cfg), n_candidates=n_candidates,
                          seconds=time.perf_counter() - t0)
            running = {}
            if epoch_done % cfg.eval_every == 0 or step == total:
                val = evaluate(model, validation_patches[:cfg.eval_patches],
                               n_steps=model_config.t_train, seed=cfg.seed, device=device)
                model.train()
                record.update({f"val_{k}": val.summary[k] for k in ("r2", "r2_map", "zeros")})
            history.append(record)
            if epoch_done % cfg.checkpoint_every == 0 or step == total:
                _save_trainer_state(state_path, model, opt, generator, step, n_candidates,
                                    history, data_state, train_config=cfg, total=total,
                                    train_seconds=prior_seconds + time.perf_counter() - t0,
                                    changes=changes)
                atomic_write_json(out_dir / f"{name}.history.json", history)
            if on_epoch_end is not None:
                on_epoch_end(record)
    if bar is not None:
        bar.close()
    seconds = prior_seconds + time.perf_counter() - t0
    summary = {"train_config": cfg.to_dict(), "train_seconds": seconds, "steps": total,
               "device": str(device), "command": command,
               "torch": torch.__version__, "final": history[-1] if history else {},
               "schedule_changes": changes}
    model.clamp_c.fill_(model_config.clamp_stop)
    save_checkpoint(model.cpu(), final_path, preprocessing=preprocessing, summary=summary,
                    log=history, overwrite=resume)
    return TrainingRun(model=model.eval(), history=history, checkpoint=final_path, seconds=seconds)


def _accumulate(running: dict[str, float], **values: float) -> None:
    for k, v in values.items():
        running[k] = running.get(k, 0.0) + v
    running["_n"] = running.get("_n", 0.0) + 1.0
