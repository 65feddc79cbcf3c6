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
    path = run_main_job(tmp_path, steps=20, n_patches=100, progress=False)
    results = json.loads((tmp_path / "results.json").read_text())
    names = {r["model"] for r in results["models"]}
    assert {"ipvae-k512-b24-photos", "igvae-k512-b8-photos", "igrelu-k512-b8-photos"} <= names
    html = path.read_text()
    assert all(n in html for n in names) and "convergence.png" in html
    assert (tmp_path / "convergence.png").stat().st_size > 10_000
    for row in results["models"]:
        assert -1 <= row["r2_median"] <= 1 and 0 <= row["zeros"] <= 1
