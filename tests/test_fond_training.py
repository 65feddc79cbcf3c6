"""A real (short) training run learns, is reproducible, and resumes."""

import json

import numpy as np
import pytest
import torch

from neurofond.cli import main as cli_main
from neurofond.fond import ModelConfig, TrainConfig, evaluate, load_checkpoint, train
from neurofond.fond.data import make_patch_data


@pytest.fixture(scope="module")
def patches():
    return make_patch_data(n_train=4000, n_validation=400, patch_size=8, seed=0)


def _cfgs(family="poisson", steps=120):
    model = ModelConfig.for_family(family, n_latents=48, n_inputs=64, t_train=8)
    tcfg = TrainConfig(epochs=100, batch_size=100, max_steps=steps, eval_every=100,
                       checkpoint_every=1, lr=1e-2)
    return model, tcfg


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
    class Stop(Exception):
        pass

    def stop(record):
        raise Stop

    with pytest.raises(Stop):
        train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
              tmp_path / "resumed", name="m", progress=False, on_epoch_end=stop)
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
