"""Evaluation traces against a manual inference loop, and the main job's report."""

import json

import numpy as np
import torch

from neurofond.fond import IterativeVAE, ModelConfig, evaluate
from neurofond.report import run_main_job


def test_evaluate_traces_equal_a_manual_loop():
    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=24, n_inputs=16),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        model.log_eta.fill_(-2.0)  # a stable regime: chaotic runs amplify rounding differences
    x = torch.randn(30, 16, generator=torch.Generator().manual_seed(2))
    res = evaluate(model, x.numpy(), 25, batch_size=30, seed=7)
    gen = torch.Generator().manual_seed(7)
    r2, zeros = [], []
    with torch.no_grad():
        state = model.initial_state(30, generator=gen)
        for _ in range(25):
            state, residual = model.step(state, x, generator=gen)
            ss_tot = ((x - x.mean(1, keepdim=True)) ** 2).sum(1)
            r2.append((1 - (residual**2).sum(1) / ss_tot).numpy())
            zeros.append((state.response == 0).float().mean().item())
    r2 = np.array(r2)
    np.testing.assert_allclose(res.traces["r2"], r2.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.traces["r2_median"], np.median(r2, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.traces["runaway_fraction"], (r2 < -1).mean(1))
    np.testing.assert_allclose(res.traces["zeros"], zeros, rtol=1e-6)
    assert res.summary["r2"] == res.traces["r2"][-1] and np.isfinite(r2).all()


def test_evaluate_records_the_spike_backend_and_torch_backend_reproduces_itself():
    from neurofond.fond.sampling import compiled_sampler_available, use_hard_sampler

    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=24, n_inputs=16),
                         generator=torch.Generator().manual_seed(0))
    x = torch.randn(30, 16, generator=torch.Generator().manual_seed(2)).numpy()
    res = evaluate(model, x, 10, batch_size=30, seed=7)
    assert res.summary["spike_sampler"] == ("compiled" if compiled_sampler_available()
                                            else "torch")
    with use_hard_sampler("torch"):
        a, b = (evaluate(model, x, 10, batch_size=30, seed=7) for _ in range(2))
    assert a.summary["spike_sampler"] == "torch"
    np.testing.assert_array_equal(a.traces["r2"], b.traces["r2"])
    gaussian = IterativeVAE(ModelConfig.for_family("gaussian", n_latents=24, n_inputs=16))
    assert evaluate(gaussian, x, 3, batch_size=30).summary["spike_sampler"] is None


def test_main_job_writes_report_for_every_shipped_model(tmp_path):
    path = run_main_job(tmp_path, steps=20, n_patches=100, progress=False,
                        sections=["convergence"], recordings=None)
    results = json.loads((tmp_path / "results.json").read_text())
    names = set(results["models"])
    assert {"ipvae-k512-b24-photos", "igvae-k512-b8-photos", "igrelu-k512-b8-photos"} <= names
    html = path.read_text()
    assert all(n in html for n in names) and "fig_convergence_traces.png" in html
    assert (tmp_path / "fig_convergence_traces.png").stat().st_size > 10_000
    for row in results["sections"]["convergence"]["results"]["models"]:
        assert -1 <= row["r2_median"] <= 1 and 0 <= row["zeros"] <= 1


def test_r2_map_decodes_the_response_at_the_posterior_mean():
    """r2_map is the plug-in decode Phi a(E_q[z]) (IterativeVAE.response_at_mean): for
    iGrelu-VAE g relu(mu), not the posterior-mean response g E[relu(z)]."""
    import pytest

    model = IterativeVAE(ModelConfig.for_family("gaussian_relu", n_latents=12, n_inputs=16),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        model.log_gain.fill_(0.3)
    x = torch.randn(20, 16, generator=torch.Generator().manual_seed(2))
    res = evaluate(model, x.numpy(), 6, batch_size=20, seed=4)
    gen = torch.Generator().manual_seed(4)
    ss_tot = ((x - x.mean(1, keepdim=True)) ** 2).sum(1)
    with torch.no_grad():
        state = model.initial_state(20, generator=gen)
        for _ in range(6):
            state, _ = model.step(state, x, generator=gen)
        plug_in = torch.relu(state.u) * torch.exp(model.log_gain)
        r2_plug = (1 - ((x - plug_in @ model.phi.T) ** 2).sum(1) / ss_tot).mean().item()
        mean = model.mean_response(state)
        r2_mean = (1 - ((x - mean @ model.phi.T) ** 2).sum(1) / ss_tot).mean().item()
    assert res.summary["r2_map"] == pytest.approx(r2_plug, rel=1e-5, abs=1e-6)
    assert abs(r2_plug - r2_mean) > 1e-4  # the two quantities really differ here
    with pytest.raises(ValueError, match="n_steps"):
        evaluate(model, x.numpy(), 0)
    with pytest.raises(ValueError, match="seed"):
        evaluate(model, x.numpy(), 2, seed=-1)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, x.numpy(), 2, batch_size=0)
