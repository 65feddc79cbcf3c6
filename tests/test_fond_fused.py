"""Fused iP-VAE update + spikes (neurofond.fond.sparse.update_sample_fused) and the two-pass
compiled sampler.

What must hold:
- the spikes of a fused step are exactly the compiled sampler's spikes for the fused rates
  (same seed draw, same blocks, same uniforms): the random stream is unchanged;
- the potentials agree with the torch update (:func:`update_poisson`) to float32 rounding,
  checked against a float64 reference, over the whole range of drives (the clamp, the floor);
- counts do not depend on the thread count, NaN is refused with a clear error;
- the two-pass sampler (uniforms first, then a vector CDF search) gives the counts of the
  one-element-after-another inversion: the AVX-512 and the scalar search agree bit for bit,
  and a pinned checksum keeps the stream of the compiled sampler fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurofond.fond import IterativeVAE, ModelConfig
from neurofond.fond.evaluate import evaluate, run_inference
from neurofond.fond.sampling import _compiled, poisson_spikes, use_hard_sampler
from neurofond.fond.sparse import (
    ExactInference,
    fused_available,
    update_poisson,
    update_sample_fused,
)

pytestmark = pytest.mark.skipif(
    not fused_available(IterativeVAE(ModelConfig.for_family("poisson", n_latents=4,
                                                            n_inputs=4))),
    reason="the compiled kernel neurofond.fond._spikes.update_sample was not built")


@pytest.fixture(scope="module")
def shipped(shipped_heldout):
    return shipped_heldout(256)


def _state_and_drive(model, x, steps=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    state = model.initial_state(x.shape[0], generator=gen)
    consts = model.step_constants()
    with torch.no_grad():
        for _ in range(steps):
            state, _ = model.step(state, x, generator=gen, consts=consts)
        drive = ((x - model.decode(state.response)) * consts.inv_var) @ model.phi
    return state, drive, consts


def _update_float64(model, u, drive, consts):
    """The iP-VAE update in float64 (the reference both float32 paths approximate)."""
    c, floor = float(consts.clamp), model.config.floor
    v = consts.eta.double() * (drive.double() - consts.bias.double())
    du = (c - F.softplus(c - v)).clamp(min=floor)
    return (c - F.softplus(c - (u.double() + du))).clamp(min=floor)


def test_fused_spikes_are_the_compiled_samplers_for_the_same_rates(shipped):
    model, x = shipped
    state, drive, consts = _state_and_drive(model, x)
    u_new, rate, spikes, n_active = update_sample_fused(
        model, state.u, drive, consts, torch.Generator().manual_seed(11))
    reference = poisson_spikes(rate, torch.Generator().manual_seed(11), sampler="compiled")
    assert torch.equal(spikes, reference)
    assert n_active == int((spikes > 0).sum())
    assert torch.equal(rate, torch.exp(u_new)) or torch.allclose(rate, torch.exp(u_new),
                                                                 rtol=4e-7, atol=0)


def test_fused_potentials_match_the_torch_update_to_float32_rounding(shipped):
    model, x = shipped
    state, drive, consts = _state_and_drive(model, x)
    # the whole range: drives that hit the clamp and the floor, potentials at both ends
    drive = drive.clone()
    drive[0] = 1e4
    drive[1] = -1e4
    drive[2] = torch.linspace(-50, 50, drive.shape[1])
    u = state.u.clone()
    u[3] = model.config.floor
    u[4] = float(consts.clamp)
    exact = _update_float64(model, u, drive, consts)
    u_fused = update_sample_fused(model, u, drive, consts, torch.Generator().manual_seed(0))[0]
    u_torch = update_poisson(model, u, drive.clone(), consts)
    err_fused = (u_fused.double() - exact).abs().max().item()
    err_torch = (u_torch.double() - exact).abs().max().item()
    # a few float32 ulp of |u| <= 10 (ulp 9.5e-7 at 8..16): both paths, same order
    assert err_fused < 4e-6, err_fused
    assert err_torch < 4e-6, err_torch
    assert u_fused.max() <= float(consts.clamp) and u_fused.min() >= model.config.floor
    assert (u_fused == model.config.floor).any()  # the floor was reached and held exactly


def test_fused_spikes_equal_the_unfused_path_almost_everywhere(shipped):
    """Same generator, same step: rates differ only at float32 rounding, so the counts differ
    only where a uniform falls within that rounding of a CDF boundary."""
    model, x = shipped
    state, drive, consts = _state_and_drive(model, x)
    fused = update_sample_fused(model, state.u, drive, consts, torch.Generator().manual_seed(3))
    u_ref = update_poisson(model, state.u, drive.clone(), consts)
    spikes_ref = poisson_spikes(torch.exp(u_ref), torch.Generator().manual_seed(3))
    assert (fused[2] != spikes_ref).sum().item() <= 2  # none in 131072 elements here


def test_fused_trajectory_is_equal_in_distribution_to_the_dense_path(shipped):
    """200 steps from the prior: per-step mean count and zeros of the fused (default) and the
    dense path (sparse='never', bit-identical to IterativeVAE.step) agree within sampling
    error, with different generators (independent trajectories)."""
    model, x = shipped
    sums_f, st_f = run_inference(model, x, 200, generator=torch.Generator().manual_seed(1))
    sums_d, st_d = run_inference(model, x, 200, generator=torch.Generator().manual_seed(2),
                                 sparse="never")
    zeros_f = sums_f["zeros"] / x.shape[0]
    zeros_d = sums_d["zeros"] / x.shape[0]
    assert (zeros_f - zeros_d).abs()[-50:].mean() < 0.01
    r2_f = sums_f["r2"][-50:].mean() / x.shape[0]
    r2_d = sums_d["r2"][-50:].mean() / x.shape[0]
    assert abs(float(r2_f - r2_d)) < 0.02
    assert abs(float(st_f.response.mean() - st_d.response.mean())) < 0.05 * float(
        st_d.response.mean())


def test_exact_inference_uses_the_fused_step_and_its_active_count(shipped):
    model, x = shipped
    exact = ExactInference(model, sparse="auto")
    assert exact.fused
    gen = torch.Generator().manual_seed(5)
    state = model.initial_state(x.shape[0], generator=gen)
    for _ in range(3):
        state, _ = exact.step(state, x, generator=gen, need_residual=False)
    exact.step(state, x, generator=gen, need_residual=False)
    assert exact.n_fused == 4
    # the rule's active fraction came from the kernel's count: the spikes' own fraction
    assert exact.last_active_fraction == pytest.approx(float((state.response > 0).float()
                                                             .mean()), abs=1e-12)
    assert not ExactInference(model, sparse="never").fused  # the bit-identical contract
    with use_hard_sampler("torch"):  # another sampler in use: not fused
        n = exact.n_fused
        exact.step(state, x, generator=gen)
        assert exact.n_fused == n


def test_fused_counts_do_not_depend_on_the_thread_count(shipped):
    model, x = shipped
    state, drive, consts = _state_and_drive(model, x)
    previous = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            outs.append(update_sample_fused(model, state.u, drive, consts,
                                            torch.Generator().manual_seed(9)))
    finally:
        torch.set_num_threads(previous)
    for other in outs[1:]:
        for a, b in zip(outs[0][:3], other[:3], strict=True):
            assert torch.equal(a, b)


def test_fused_ragged_shapes_and_bad_input():
    """K not a multiple of the vector width and B*K not a multiple of the block: the same
    numbers as the unfused path; NaN, wrong shapes and dtypes are refused by name."""
    cfg = ModelConfig.for_family("poisson", n_latents=37, n_inputs=12)
    model = IterativeVAE(cfg, generator=torch.Generator().manual_seed(0))
    consts = model.step_constants()
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(229, 37, generator=gen) - 1.0
    drive = torch.randn(229, 37, generator=gen) * 3.0
    u_new, rate, spikes, _ = update_sample_fused(model, u, drive, consts,
                                                 torch.Generator().manual_seed(2))
    torch.testing.assert_close(u_new, update_poisson(model, u, drive.clone(), consts),
                               rtol=0, atol=4e-6)
    assert torch.equal(spikes, poisson_spikes(rate, torch.Generator().manual_seed(2)))
    bad = drive.clone()
    bad[100, 5] = float("nan")
    with pytest.raises(ValueError, match="u, drive: 1 NaN"):
        update_sample_fused(model, u, bad, consts)
    with pytest.raises(ValueError, match="u, drive: expected the same shape"):
        update_sample_fused(model, u, drive[:, :36], consts)
    with pytest.raises(ValueError, match="drive: expected a 2-D CPU float32"):
        update_sample_fused(model, u, drive.double(), consts)
    with pytest.raises(ValueError, match="fused: True needs an iP-VAE"):
        ExactInference(model.double(), fused=True)


def _mixed_rates() -> torch.Tensor:
    rng = np.random.default_rng(2026)
    rate = np.concatenate([rng.uniform(0, 0.3, 40000), rng.uniform(0, 12, 40000),
                           np.exp(rng.normal(0, 2, 40000)), np.full(2000, 9.999999),
                           np.full(2000, 10.0), rng.uniform(0, 200, 4000), np.zeros(1000)])
    rate = rate.astype(np.float32)
    rng.shuffle(rate)
    return torch.from_numpy(rate)


def test_two_pass_sampler_keeps_the_compiled_stream():
    """Pinned on 129000 rates (all regimes: silent, inversion, the 10.0 switch to PTRS, large
    rates). The values were computed after checking the two-pass sampler against the
    one-element-after-another sampler it replaced (commit fc4f9de) on 931000 mixed rates at
    three seeds: identical counts."""
    spikes = poisson_spikes(_mixed_rates(), torch.Generator().manual_seed(7), sampler="compiled")
    weights = torch.arange(spikes.numel(), dtype=torch.float64) % 9973
    assert int(spikes.sum()) == 969198
    assert int((spikes.double() * weights).sum()) == 4806223315
    assert int((spikes > 0).sum()) == 73662


def test_vector_and_scalar_cdf_search_agree_bit_for_bit():
    rate = _mixed_rates()
    vector = poisson_spikes(rate, torch.Generator().manual_seed(8), sampler="compiled")
    previous = _compiled._set_vector_inversion(False)
    try:
        scalar = poisson_spikes(rate, torch.Generator().manual_seed(8), sampler="compiled")
    finally:
        _compiled._set_vector_inversion(previous)
    assert torch.equal(vector, scalar)


def _vector_generator_runs() -> bool:
    """Whether this CPU draws eight blocks' uniforms in AVX-512 lanes (setting unchanged)."""
    previous = _compiled._set_vector_generator(True)
    return _compiled._set_vector_generator(previous)


def _scalar_draws(fn):
    previous = _compiled._set_vector_generator(False)
    try:
        return fn()
    finally:
        _compiled._set_vector_generator(previous)


needs_vector_generator = pytest.mark.skipif(
    not _vector_generator_runs(), reason="no AVX-512F/DQ/VL on this CPU: one way of drawing")


@needs_vector_generator
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["mixed", "ptrs-heavy", "odd-length"])
def test_vector_generator_gives_the_scalar_counts(kind, threads):
    """Eight blocks' uniforms drawn side by side in vector lanes, then read in order by pass 1:
    the counts of the one-block-after-another generator, bit for bit. Covered: runs of
    listable rates between PTRS elements (1 % of a trained population's rates are >= 10),
    blocks whose PTRS draws use up the uniforms drawn ahead (every rate >= 10: the lane's
    generator takes over), a last partial block and a last group of fewer than eight blocks,
    NaN rates (counted as bad)."""
    gen = torch.Generator().manual_seed(11)
    rate = {"mixed": _mixed_rates(),
            "ptrs-heavy": torch.rand(3 * 4096 + 17, generator=gen) * 40 + 10,
            "odd-length": torch.rand(9 * 4096 + 1234, generator=gen) * 12}[kind]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for seed in (0, 2**61 + 5):
            vector = poisson_spikes(rate, torch.Generator().manual_seed(seed), sampler="compiled")
            scalar = _scalar_draws(lambda seed=seed: poisson_spikes(
                rate, torch.Generator().manual_seed(seed), sampler="compiled"))
            assert torch.equal(vector, scalar)
    finally:
        torch.set_num_threads(previous)
    assert float(vector.mean()) == pytest.approx(float(rate.double().mean()), rel=0.02)
    bad = rate.clone()
    bad[5000] = float("nan")
    with pytest.raises(ValueError, match="1 NaN"):
        poisson_spikes(bad, torch.Generator().manual_seed(0), sampler="compiled")


@needs_vector_generator
def test_fused_step_draws_the_same_with_either_generator(shipped):
    model, x = shipped
    state, drive, consts = _state_and_drive(model, x, steps=20)
    vector = update_sample_fused(model, state.u, drive, consts, torch.Generator().manual_seed(4))
    scalar = _scalar_draws(lambda: update_sample_fused(model, state.u, drive, consts,
                                                       torch.Generator().manual_seed(4)))
    for a, b in zip(vector[:3], scalar[:3], strict=True):
        assert torch.equal(a, b)
    assert vector[3] == scalar[3] == int((vector[2] > 0).sum())


def test_evaluate_records_the_fused_fraction(shipped):
    model, x = shipped
    fused = evaluate(model, x[:32].numpy(), 4, batch_size=16, seed=0)
    unfused = evaluate(model, x[:32].numpy(), 4, batch_size=16, seed=0, fused=False)
    dense = evaluate(model, x[:32].numpy(), 4, batch_size=16, seed=0, sparse="never")
    assert fused.summary["fused_steps"] == 1.0
    assert unfused.summary["fused_steps"] == 0.0 and dense.summary["fused_steps"] == 0.0
    # same seed: the same stream, R^2 equal to rounding over these few steps
    assert fused.summary["r2"] == pytest.approx(unfused.summary["r2"], abs=1e-4)
