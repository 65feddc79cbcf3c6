"""Sparse exact inference (neurofond.fond.sparse) against the dense path, on the shipped iP-VAE.

The dense path (``sparse="never"``) must be :meth:`IterativeVAE.step` bit for bit; sparse steps
draw the same random numbers and agree with dense ones to float32 rounding; the training step
must not change at all (reference hashes recorded before the sparse path existed).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from scipy import stats

from neurofond.fond import IterativeVAE, ModelConfig
from neurofond.fond.evaluate import evaluate, run_inference
from neurofond.fond.model import InferenceState
from neurofond.fond.sampling import use_hard_sampler
from neurofond.fond.sparse import (
    CROSSOVER,
    CROSSOVER_WITH_RESIDUAL,
    ExactInference,
    choose_sparse,
    sparse_available,
    subtract_sparse,
    update_poisson,
)
from neurofond.pretrained import DEFAULT_MODEL, load_pretrained

pytestmark = pytest.mark.skipif(
    not sparse_available(IterativeVAE(ModelConfig.for_family("poisson", n_latents=4,
                                                              n_inputs=4))),
    reason="the compiled kernel neurofond.fond._spikes.subtract_rows was not built")


@pytest.fixture(scope="module")
def shipped(shipped_heldout):
    return shipped_heldout(64)


def _run(model, x, mode, n_steps, seed, **kw):
    """States and residuals of ``n_steps`` ExactInference steps."""
    exact = ExactInference(model, sparse=mode, **kw)
    gen = torch.Generator().manual_seed(seed)
    state = model.initial_state(x.shape[0], generator=gen)
    states, residuals = [], []
    for _ in range(n_steps):
        state, residual = exact.step(state, x, generator=gen)
        states.append(state)
        residuals.append(residual)
    return exact, states, residuals


def test_dense_mode_is_the_model_step_bit_for_bit(shipped):
    model, x = shipped
    _, states, residuals = _run(model, x, "never", 8, seed=3)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        state = model.initial_state(x.shape[0], generator=gen)
        residual = None
        for new, res in zip(states, residuals):
            state, residual = model.step(state, x, generator=gen, residual=residual)
            assert torch.equal(state.u, new.u) and torch.equal(state.response, new.response)
            assert torch.equal(state.rate, new.rate) and torch.equal(residual, res)


def test_sparse_steps_match_dense_steps(shipped):
    """Same seed: identical spikes for several steps, u / residual / R^2 to float32 rounding."""
    model, x = shipped
    exact, sparse_states, sparse_res = _run(model, x, "always", 6, seed=11)
    assert exact.n_sparse == 6 and exact.n_dense == 0
    _, dense_states, dense_res = _run(model, x, "never", 6, seed=11)
    ss_tot = ((x - x.mean(1, keepdim=True)) ** 2).sum(1)
    for s, d, rs, rd in zip(sparse_states, dense_states, sparse_res, dense_res):
        assert torch.equal(s.response, d.response)  # same draws, same counts
        assert (s.response > 0).float().mean() > 0.3  # the products really were sparse-ish
        torch.testing.assert_close(s.u, d.u, rtol=0, atol=2e-5)
        torch.testing.assert_close(rs, rd, rtol=0, atol=1e-5)
        r2s, r2d = 1 - (rs**2).sum(1) / ss_tot, 1 - (rd**2).sum(1) / ss_tot
        torch.testing.assert_close(r2s, r2d, rtol=0, atol=1e-5)


def test_run_inference_sparse_and_dense_agree(shipped):
    model, x = shipped
    runs = {mode: run_inference(model, x, 6, generator=torch.Generator().manual_seed(5),
                                sparse=mode) for mode in ("always", "never", "auto")}
    (sa, st_a), (sn, st_n), (su, _) = runs["always"], runs["never"], runs["auto"]
    assert torch.equal(st_a.response, st_n.response)
    for key in ("r2", "r2_map", "ss_res", "zeros", "du_norm"):
        np.testing.assert_allclose(sa[key], sn[key], rtol=1e-5, atol=1e-4, err_msg=key)
    assert sa["sparse"].tolist() == [1.0] * 6 and sn["sparse"].tolist() == [0.0] * 6
    # the first steps of a trained model on photos are ~45 % active: above the crossover of
    # steps that record R^2 (they need the residual)
    assert su["sparse"].sum() == 0 and CROSSOVER_WITH_RESIDUAL < 0.45


def test_sparse_and_dense_are_equal_in_distribution(shipped):
    """Independent seeds, 60 steps: the pooled spike-count histograms of the last 20 steps
    do not differ (chi-square test of homogeneity), nor do the final R^2 means."""
    model, x = shipped
    counts, r2 = {}, {}
    for mode, seed in (("always", 101), ("never", 202)):
        sums, _ = run_inference(model, x, 60, generator=torch.Generator().manual_seed(seed),
                                sparse=mode)
        exact, states, _ = _run(model, x, mode, 60, seed=seed)
        z = torch.stack([s.response for s in states[-20:]]).long().clamp(max=4)
        counts[mode] = np.bincount(z.reshape(-1).numpy(), minlength=5)
        r2[mode] = sums["r2"][-1].item() / x.shape[0]
    table = np.stack([counts["always"], counts["never"]])
    p = stats.chi2_contingency(table)[1]
    assert p > 1e-3, (table, p)
    assert abs(r2["always"] - r2["never"]) < 0.02


def test_update_poisson_is_the_model_update_bit_for_bit(shipped):
    model, _ = shipped
    consts = model.step_constants()
    gen = torch.Generator().manual_seed(0)
    for scale in (1e-3, 1.0, 30.0, 1e4):
        drive = torch.randn(40, model.n_latents, generator=gen) * scale
        u = torch.randn(40, model.n_latents, generator=gen) * 4
        ref, _ = model.update(InferenceState(u=u, response=u), drive, consts=consts)
        assert torch.equal(update_poisson(model, u, drive.clone(), consts), ref)


@pytest.mark.parametrize("k, n", [(512, 512), (512, 256), (77, 200), (130, 16)])
@pytest.mark.parametrize("density", [0.15, 0.45])
def test_blocked_kernel_gives_the_row_by_row_bits(shipped, k, n, density):
    """From 32 rows on, the AVX-512 build sums over L1-sized panels of M (the rows of a chunk
    listed once per panel); one row at a time it runs the unblocked loop. Every column is the
    same fused multiply-add chain either way, so the two agree bit for bit, on the shipped
    model's Gram matrix and on odd shapes (columns past the 128-column tiles, K not a multiple
    of the 64-row panels), with -0.0 counts (not listed) among the nonzeros."""
    gen = torch.Generator().manual_seed(k + n)
    if (k, n) == (512, 512):
        m = ExactInference(shipped[0]).gram
    elif (k, n) == (512, 256):
        m = ExactInference(shipped[0]).phi_t
    else:
        m = torch.randn(k, n, generator=gen)
    b = 200
    z = torch.poisson(torch.full((b, k), 1.5), generator=gen)
    z *= torch.rand(b, k, generator=gen) < density
    z[0, :5] = -0.0
    base = torch.randn(b, n, generator=gen)
    blocked = subtract_sparse(z, m, base)
    row_by_row = torch.cat([subtract_sparse(z[i:i + 1], m, base[i:i + 1]) for i in range(b)])
    assert torch.equal(blocked, row_by_row)
    ref = base.double() - z.double() @ m.double()
    np.testing.assert_allclose(blocked.numpy(), ref.numpy(), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("density", [0.0, 0.03, 0.2, 0.6, 1.0])
def test_subtract_sparse_is_the_dense_product(density):
    gen = torch.Generator().manual_seed(int(density * 100))
    b, k, n = 300, 96, 70  # n not a multiple of the kernel's 64-column tiles
    z = torch.poisson(torch.full((b, k), 2.0), generator=gen)
    z *= torch.rand(b, k, generator=gen) < density
    m, base = torch.randn(k, n, generator=gen), torch.randn(b, n, generator=gen)
    out = subtract_sparse(z, m, base)
    ref = base.double() - z.double() @ m.double()
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-4)
    if density == 0.0:
        assert torch.equal(out, base)  # nothing subtracted, not even a rounding
    threads = torch.get_num_threads()
    try:  # rows split across two threads: the same bits
        torch.set_num_threads(2)
        big = torch.cat([z] * 2), torch.cat([base] * 2)
        two = subtract_sparse(big[0], m, big[1])
        torch.set_num_threads(1)
        assert torch.equal(two, subtract_sparse(big[0], m, big[1]))
    finally:
        torch.set_num_threads(threads)


def test_switching_rule():
    assert choose_sparse(0.0) and choose_sparse(CROSSOVER - 1e-9)
    assert not choose_sparse(CROSSOVER) and not choose_sparse(1.0)
    assert not choose_sparse(0.0, crossover=0.0) and choose_sparse(0.99, crossover=1.0)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="active_fraction"):
            choose_sparse(bad)
    with pytest.raises(ValueError, match="crossover"):
        choose_sparse(0.1, crossover=2.0)


def _state_with_activity(model, b, fraction, seed=0):
    gen = torch.Generator().manual_seed(seed)
    k = model.n_latents
    z = torch.zeros(b, k)
    n_active = round(fraction * b * k)
    z.view(-1)[torch.randperm(b * k, generator=gen)[:n_active]] = 1.0
    u = torch.randn(b, k, generator=gen) - 1
    return InferenceState(u=u, response=z, rate=torch.exp(u))


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.2, 0.4, 1.0])
def test_auto_mode_follows_the_rule_per_step(shipped, fraction):
    model, x = shipped
    state = _state_with_activity(model, x.shape[0], fraction)
    for crossover in (0.15, 0.3):
        exact = ExactInference(model, sparse="auto", crossover=crossover)
        exact.step(state, x, generator=torch.Generator().manual_seed(0))
        actual = float((state.response > 0).float().mean())
        assert abs(actual - fraction) < 1e-4 and exact.last_active_fraction == actual
        assert exact.n_sparse == int(actual < crossover)
        assert exact.n_dense == 1 - exact.n_sparse


@pytest.mark.parametrize("fraction", [0.2, 0.45, 0.7])
def test_default_crossover_depends_on_whether_the_residual_is_needed(shipped, fraction):
    """Default rule: a step returning only the drive is sparse below CROSSOVER (one sparse
    product), one returning the residual too below CROSSOVER_WITH_RESIDUAL (two)."""
    model, x = shipped
    state = _state_with_activity(model, x.shape[0], fraction)
    assert CROSSOVER_WITH_RESIDUAL < 0.45 < CROSSOVER < 0.7
    for need_residual, crossover in ((False, CROSSOVER), (True, CROSSOVER_WITH_RESIDUAL)):
        exact = ExactInference(model, sparse="auto")
        _, residual = exact.step(state, x, generator=torch.Generator().manual_seed(0),
                                 need_residual=need_residual)
        assert exact.n_sparse == int(fraction < crossover), (need_residual, fraction)
        assert (residual is not None) == need_residual


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_edge_cases_all_silent_and_all_active(shipped, fraction):
    """All silent: the sparse drive is the feedforward drive, the same bits as the dense one
    (x - Phi 0 = x). All active: every column enters; the numbers still agree."""
    model, x = shipped
    state = _state_with_activity(model, x.shape[0], fraction)
    out = {}
    for mode in ("always", "never"):
        out[mode] = ExactInference(model, sparse=mode, fused=False).step(
            state, x, generator=torch.Generator().manual_seed(4))
    (sa, ra), (sd, rd) = out["always"], out["never"]
    assert torch.equal(sa.response, sd.response)
    if fraction == 0.0:
        assert torch.equal(sa.u, sd.u)
    else:
        torch.testing.assert_close(sa.u, sd.u, rtol=0, atol=1e-5)
    torch.testing.assert_close(ra, rd, rtol=0, atol=1e-5)


def test_feedforward_cache_follows_the_input(shipped):
    """A new input tensor, or the same one changed in place, is not served a stale drive."""
    model, x = shipped
    state = _state_with_activity(model, x.shape[0], 0.05)
    exact = ExactInference(model, sparse="always")
    ref = ExactInference(model, sparse="always")
    y = x.clone()
    exact.step(state, y, generator=torch.Generator().manual_seed(0))
    y.mul_(0.5)
    a, _ = exact.step(state, y, generator=torch.Generator().manual_seed(0))
    b, _ = ref.step(state, x * 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.u, b.u)


def test_torch_sampler_and_evaluate_summary(shipped):
    model, x = shipped
    with use_hard_sampler("torch"):  # the sparse products do not depend on the sampler
        (sa, st_a), (sn, st_n) = (run_inference(model, x[:16], 4, sparse=mode,
                                                generator=torch.Generator().manual_seed(1))
                                  for mode in ("always", "never"))
    assert torch.equal(st_a.response, st_n.response)
    res = evaluate(model, x[:32].numpy(), 5, batch_size=16, seed=0, sparse="always")
    assert res.summary["sparse_steps"] == 1.0
    res = evaluate(model, x[:32].numpy(), 5, batch_size=16, seed=0, sparse="never")
    assert res.summary["sparse_steps"] == 0.0


def test_bad_arguments(shipped):
    model, x = shipped
    gauss = IterativeVAE(ModelConfig.for_family("gaussian", n_latents=8, n_inputs=4))
    with pytest.raises(ValueError, match="model: .*poisson"):
        ExactInference(gauss)
    with pytest.raises(ValueError, match="sparse: expected one of"):
        ExactInference(model, sparse="sometimes")
    with pytest.raises(ValueError, match="crossover"):
        ExactInference(model, crossover=-1)
    with pytest.raises(ValueError, match="sparse: expected one of"):
        run_inference(gauss, torch.zeros(2, 4), 2, sparse="yes")
    with pytest.raises(ValueError, match="'always' needs"):
        ExactInference(IterativeVAE(ModelConfig.for_family("poisson", n_latents=8,
                                                           n_inputs=4)).double(),
                       sparse="always")
    with pytest.raises(ValueError, match="z: expected a 2-D CPU float32"):
        subtract_sparse(torch.zeros(3, 4, dtype=torch.float64), torch.zeros(4, 2),
                        torch.zeros(3, 2))
    with pytest.raises(ValueError, match="expected shapes"):
        subtract_sparse(torch.zeros(3, 4), torch.zeros(5, 2), torch.zeros(3, 2))


# ------------------------------------------------------------------ training unchanged
# Recorded with the code before the sparse path (commit fb0ebb0), torch 2.13.0+cpu, one
# thread, on the project's CPU: SHA-256 of the state dict after three training steps.
_TRAIN_REFERENCE = {
    "fresh": ("000dd5d11822fd75ab20fad1ca971f2ff0d37aaddf4bb1c9586ff72a6d73fb25",
              {"phi": -5.220799218528555, "log_bias": -1537.2034976482391,
               "prior_u": -2548.4316182136536}),
    "pretrained": ("f0623cddecf5b7a3d7630e6dcebe9794c1702e51618efffa71ac7684a3254821",
                   {"phi": -1.2438707677370076, "log_bias": -829.6605100631714,
                    "log_sigma_x": -127.92153245210648, "prior_u": -254.01621086231899}),
}
_TRAIN_REFERENCE_TORCH = "2.13.0+cpu"


def _train_three_steps(model):
    opt = torch.optim.Adamax(model.parameters(), lr=1e-3)
    x = torch.randn(32, model.config.n_inputs, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        loss, _ = model.training_loss(x, beta=2.0, temperature=0.3, n_candidates=12,
                                      generator=gen, n_steps=6)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        opt.step()
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest(), {k: float(v.double().sum()) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("which", ["fresh", "pretrained"])
def test_training_steps_are_unchanged(which):
    from neurofond.fond.training import configure_cpu

    configure_cpu()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if which == "fresh":
            model = IterativeVAE(ModelConfig.for_family("poisson"),
                                 generator=torch.Generator().manual_seed(0))
        else:
            model = load_pretrained(DEFAULT_MODEL)[0].train()
        digest, sums = _train_three_steps(model)
    finally:
        torch.set_num_threads(threads)
    ref_digest, ref_sums = _TRAIN_REFERENCE[which]
    for key, value in ref_sums.items():
        assert sums[key] == pytest.approx(value, rel=1e-6), key
    if torch.__version__ != _TRAIN_REFERENCE_TORCH:
        pytest.skip(f"bit-level reference recorded with torch {_TRAIN_REFERENCE_TORCH}")
    assert digest == ref_digest
