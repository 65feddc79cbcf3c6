"""A real (short) training run learns, is reproducible, and resumes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurofond.cli import main as cli_main
from neurofond.fond import (
    CheckpointError,
    ModelConfig,
    TrainConfig,
    evaluate,
    load_checkpoint,
    train,
)
from neurofond.fond.data import make_patch_data


@pytest.fixture(scope="module")
def patches():
    return make_patch_data(n_train=4000, n_validation=400, patch_size=8, seed=0)


def _cfgs(family="poisson", steps=120):
    model = ModelConfig.for_family(family, n_latents=48, n_inputs=64, t_train=8)
    tcfg = TrainConfig(epochs=100, batch_size=100, max_steps=steps, eval_every=100,
                       checkpoint_every=1, lr=1e-2)
    return model, tcfg


class _Interrupted(Exception):
    """Raised by the epoch callback of :func:`_interrupt_after_first_epoch`."""


def _interrupt_after_first_epoch(mcfg, tcfg, patches, out, name: str):
    """Train until the end of the first epoch (its trainer state is written), then stop, as an
    interrupted run does; returns the trainer state's path."""
    def stop(record):
        raise _Interrupted

    with pytest.raises(_Interrupted):
        train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, out,
              name=name, progress=False, on_epoch_end=stop)
    return Path(out) / f"{name}.trainer.safetensors"


def test_training_steps_descend_the_unrolled_free_energy():
    """Backprop through the whole trajectory gives a descent direction for every family."""
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    for family in ("poisson", "gaussian", "gaussian_relu"):
        model, _ = _cfgs(family)
        from neurofond.fond import IterativeVAE

        net = IterativeVAE(model, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            net.phi.normal_(0, 0.1, generator=torch.Generator().manual_seed(2))
        opt = torch.optim.Adamax(net.parameters(), lr=2e-3)
        losses = []
        for _ in range(15):
            loss, _ = net.training_loss(x, beta=1.0, temperature=0.1, n_candidates=20,
                                        generator=torch.Generator().manual_seed(3))
            opt.zero_grad()
            loss.backward()
            assert all(torch.isfinite(p.grad).all() for p in net.parameters())
            assert net.phi.grad.abs().sum() > 0 and net.log_eta.grad.abs() > 0
            opt.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < losses[0] - 1.0, (family, losses[0], losses[-1])


def test_training_is_reproducible_and_checkpointed(tmp_path, patches):
    mcfg, tcfg = _cfgs(steps=60)
    run = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, tmp_path,
                name="a", progress=False)
    again = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, tmp_path,
                  name="b", progress=False)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k
    model, prep, summary = load_checkpoint(tmp_path / "a.safetensors")
    assert summary["steps"] == 60 and prep == patches.preprocessing
    assert [h["step"] for h in run.history] == [40, 60]
    assert {"loss", "nll", "kl", "beta", "temperature", "lr", "n_candidates", "val_r2",
            "val_zeros"} <= set(run.history[-1])
    with pytest.raises(FileExistsError, match="exists"):
        train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, tmp_path,
              name="a", progress=False)


@pytest.mark.slow
def test_longer_training_improves_reconstruction(tmp_path, patches):
    mcfg, tcfg = _cfgs(steps=2000)
    run = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, tmp_path,
                name="long", progress=False)
    s = evaluate(run.model, patches.validation, 8, seed=0).summary
    assert s["r2"] > 0.3 and s["zeros"] > 0.3


def test_resume_continues_to_the_same_weights(tmp_path, patches):
    mcfg, tcfg = _cfgs(steps=80)
    tcfg.eval_every = 1
    full = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                 tmp_path / "full", name="m", progress=False)
    # interrupt after the first epoch (40 steps; its trainer state is saved), then resume
    _interrupt_after_first_epoch(mcfg, tcfg, patches, tmp_path / "resumed", "m")
    resumed = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                       tmp_path / "resumed", name="m", progress=False, resume=True)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(v, resumed.model.state_dict()[k], rtol=0, atol=0)


def test_cli_train_and_evaluate_json(tmp_path, capsys):
    rc = cli_main(["train", "--n-latents", "32", "--t-train", "4", "--max-steps", "5",
                   "--n-train", "2000", "--n-validation", "200", "--batch-size", "100",
                   "--out", str(tmp_path), "--name", "cli", "--no-progress"])
    assert rc == 0
    capsys.readouterr()
    rc = cli_main(["evaluate", str(tmp_path / "cli.safetensors"), "--steps", "30",
                   "--n-patches", "200", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"r2", "r2_map", "zeros", "convergence_step"}
    assert 0 <= out["zeros"] <= 1 and np.isfinite(out["r2"])
    assert out["spike_sampler"] in ("compiled", "torch")
    rc = cli_main(["evaluate", str(tmp_path / "missing.safetensors"), "--json"])
    assert rc == 2


# --- resume safety (issue 17.1): nothing lost, nothing silent ---------------------------------

def _run(tmp_path, patches, tcfg=None, **kw):
    mcfg, default = _cfgs(steps=20)
    return train(mcfg, tcfg or default, patches.train, patches.validation,
                 patches.preprocessing, tmp_path, name="r", progress=False, **kw)


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_resume_without_trainer_state_never_replaces_a_finished_checkpoint(tmp_path, patches):
    _run(tmp_path, patches)
    (tmp_path / "r.trainer.safetensors").unlink()
    before = _snapshot(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"trainer state .*r\.trainer\.safetensors.*"
                                                r"missing.*left untouched"):
        _run(tmp_path, patches, resume=True)
    with pytest.raises(FileExistsError, match="finished run"):
        _run(tmp_path, patches, restart=True)  # --restart never replaces a finished checkpoint
    assert _snapshot(tmp_path) == before


def test_resume_without_any_state_needs_restart(tmp_path, patches):
    with pytest.raises(FileNotFoundError, match="--restart"):
        _run(tmp_path, patches, resume=True)
    assert not (tmp_path / "r.safetensors").exists()
    with pytest.raises(ValueError, match="one of them"):
        _run(tmp_path, patches, resume=True, restart=True)
    assert _run(tmp_path, patches, restart=True).checkpoint.exists()


def test_an_unfinished_run_is_not_silently_restarted(tmp_path, patches):
    mcfg, tcfg = _cfgs(steps=80)
    args = (mcfg, tcfg, patches.train, patches.validation, patches.preprocessing, tmp_path)
    _interrupt_after_first_epoch(mcfg, tcfg, patches, tmp_path, "r")
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="unfinished run.*--resume.*--restart"):
        train(*args, name="r", progress=False)
    assert _snapshot(tmp_path) == before
    run = train(*args, name="r", progress=False, restart=True)
    assert [h["step"] for h in run.history] == [40, 80]


def test_resuming_a_finished_run_is_a_no_op(tmp_path, patches):
    first = _run(tmp_path, patches)
    before = _snapshot(tmp_path)
    again = _run(tmp_path, patches, resume=True)
    assert again.already_finished and again.seconds == pytest.approx(first.seconds)
    assert _snapshot(tmp_path) == before  # nothing rewritten (no tiny train_seconds)
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k


@pytest.mark.parametrize("field, value", [("batch_size", 50), ("lr", 2e-2), ("seed", 3),
                                          ("grad_clip", 10.0), ("temp_stop", 0.5)])
def test_resume_with_changed_training_settings_is_refused(tmp_path, patches, field, value):
    _run(tmp_path, patches)
    before = _snapshot(tmp_path)
    _, tcfg = _cfgs(steps=40)  # a longer schedule too, so the run is not finished
    old = getattr(tcfg, field)
    setattr(tcfg, field, value)
    with pytest.raises(ValueError, match=rf"{field} differs.*{old!r}.*now {value!r}"):
        _run(tmp_path, patches, tcfg, resume=True)
    assert _snapshot(tmp_path) == before


def test_resume_with_other_training_data_is_refused(tmp_path, patches):
    _run(tmp_path, patches)
    mcfg, tcfg = _cfgs(steps=40)
    with pytest.raises(ValueError, match="train_patches.*n_patches"):
        train(mcfg, tcfg, patches.train[:2000], patches.validation, patches.preprocessing,
              tmp_path, name="r", progress=False, resume=True)


def test_extending_max_steps_on_resume_is_recorded_at_the_step(tmp_path, patches):
    first = _run(tmp_path, patches)
    _, tcfg = _cfgs(steps=40)
    with pytest.warns(UserWarning) as caught:
        longer = _run(tmp_path, patches, tcfg, resume=True)
    messages = [str(w.message) for w in caught]
    assert any("max_steps changed at step 20: 20 -> 40" in m for m in messages), messages
    assert any("total_steps changed at step 20" in m for m in messages), messages
    assert not longer.already_finished and longer.history[-1]["step"] == 40
    _, _, summary = load_checkpoint(tmp_path / "r.safetensors")
    assert summary["steps"] == 40 and summary["train_config"]["max_steps"] == 40
    changes = summary["schedule_changes"]
    assert {"step": 20, "setting": "max_steps", "old": 20, "new": 40} in changes
    assert {"step": 20, "setting": "total_steps", "old": 20, "new": 40} in changes
    assert summary["train_seconds"] > first.seconds  # cumulative over both sessions
    sidecar = json.loads((tmp_path / "r.json").read_text())
    assert sidecar["summary"]["schedule_changes"] == summary["schedule_changes"]
    with pytest.raises(ValueError, match="cannot be shortened"):
        _run(tmp_path, patches, resume=True)  # back to 20 steps: below the 40 taken


def test_truncated_trainer_state_gives_a_clear_error(tmp_path, patches, capsys):
    mcfg, tcfg = _cfgs(steps=80)
    state = _interrupt_after_first_epoch(mcfg, tcfg, patches, tmp_path, "r")
    data = state.read_bytes()
    for damaged in (data[: len(data) // 2], b"\x00" * 7, data[:8] + b"{not json" + data[17:]):
        state.write_bytes(damaged)
        with pytest.raises(CheckpointError, match=r"r\.trainer\.safetensors.*--restart"):
            train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                  tmp_path, name="r", progress=False, resume=True)
        assert state.read_bytes() == damaged and not (tmp_path / "r.safetensors").exists()
    rc = cli_main(["train", "--resume", "--out", str(tmp_path), "--name", "r", "--n-latents",
                   "48", "--t-train", "8", "--n-train", "2000", "--n-validation", "200",
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "r.trainer.safetensors" in err and "Traceback" not in err


def test_trainer_state_of_the_original_format_still_resumes(tmp_path, patches):
    """A run started before settings were recorded (keys step .. model_config only) resumes."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    mcfg, tcfg = _cfgs(steps=80)
    tcfg.eval_every = 1
    full = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                 tmp_path / "full", name="m", progress=False)
    state = _interrupt_after_first_epoch(mcfg, tcfg, patches, tmp_path / "old", "m")
    with safe_open(str(state), framework="pt") as fh:
        meta = fh.metadata()
    legacy = {k: meta[k] for k in ("step", "n_candidates", "history", "model_config")}
    legacy["data"] = json.dumps({"seed": tcfg.seed})
    save_file(load_file(str(state)), str(state), metadata=legacy)
    with pytest.warns(UserWarning, match="predates recorded training settings"):
        resumed = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                        tmp_path / "old", name="m", progress=False, resume=True)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(v, resumed.model.state_dict()[k], rtol=0, atol=0)
    _, _, summary = load_checkpoint(tmp_path / "old" / "m.safetensors")
    assert summary["schedule_changes"][0]["setting"] == "train_config"
    assert summary["train_seconds"] > 0


def test_resume_on_another_device_type_reseeds_and_records_it(tmp_path, patches):
    """A trainer state whose sampling-generator state came from another device type (a CUDA
    Philox state is 16 bytes; the CPU Mersenne Twister's 5056) resumes with a generator
    reseeded from (seed, step): reproducible, warned, and recorded in the summary."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    mcfg, tcfg = _cfgs(steps=80)
    state = _interrupt_after_first_epoch(mcfg, tcfg, patches, tmp_path / "a", "r")
    with safe_open(str(state), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["generator_state"] = torch.arange(16, dtype=torch.uint8)  # a CUDA-sized state
    save_file(tensors, str(state), metadata=meta)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "r.trainer.safetensors").write_bytes(state.read_bytes())
    runs = []
    for folder in ("a", "b"):
        with pytest.warns(UserWarning, match="saved on another device type"):
            runs.append(train(mcfg, tcfg, patches.train, patches.validation,
                              patches.preprocessing, tmp_path / folder, name="r",
                              progress=False, resume=True))
    for k, v in runs[0].model.state_dict().items():  # same state, same reseed: same weights
        torch.testing.assert_close(v, runs[1].model.state_dict()[k], rtol=0, atol=0)
    _, _, summary = load_checkpoint(tmp_path / "a" / "r.safetensors")
    change = [c for c in summary["schedule_changes"] if c["setting"] == "sampling_generator"]
    assert len(change) == 1 and change[0]["step"] == 40 and "16 bytes" in change[0]["old"]
    assert summary["steps"] == 80


@pytest.mark.parametrize("family", ["gaussian_relu", "poisson"])
def test_a_fixed_prior_is_not_learned(tmp_path, patches, family):
    """fit_prior=False: the prior keeps its initial values exactly through training (no
    update, no weight decay) while the decoder learns; the setting survives the checkpoint.
    With the default (learned, as in the reference code) the prior moves."""
    from neurofond.fond import IterativeVAE

    results = {}
    for fit in (False, True):
        mcfg, tcfg = _cfgs(family, steps=40)
        mcfg.fit_prior = fit
        initial = IterativeVAE(mcfg, generator=torch.Generator().manual_seed(tcfg.seed))
        run = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                    tmp_path, name=f"fit-{fit}", progress=False)
        moved = [not torch.equal(a.detach(), b.detach()) for a, b in
                 zip(run.model.prior_parameters(), initial.prior_parameters(), strict=True)]
        results[fit] = moved
        assert not torch.equal(run.model.phi.detach(), initial.phi.detach())
        loaded = load_checkpoint(run.checkpoint)[0]
        assert loaded.config.fit_prior is fit
        assert all(p.requires_grad is fit for p in loaded.prior_parameters())
    assert not any(results[False]), "a fixed prior moved"
    assert all(results[True]), "the learned prior did not move"


def test_fit_prior_is_checked_and_set_by_the_cli(tmp_path, capsys):
    with pytest.raises(ValueError, match="fit_prior: expected true or false"):
        ModelConfig(fit_prior="no")
    rc = cli_main(["train", "--family", "gaussian_relu", "--no-fit-prior", "--n-latents", "16",
                   "--t-train", "2", "--max-steps", "3", "--n-train", "1000",
                   "--n-validation", "100", "--batch-size", "100", "--out", str(tmp_path),
                   "--name", "fixed", "--no-progress"])
    assert rc == 0
    capsys.readouterr()
    model = load_checkpoint(tmp_path / "fixed.safetensors")[0]
    assert model.config.fit_prior is False
    assert torch.equal(model.prior_u.detach(), torch.zeros(16))
    assert torch.equal(model.prior_xi.detach(), torch.zeros(16))
