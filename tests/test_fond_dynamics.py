"""The inference update equals the natural gradient of the free energy (autograd check)."""

import torch

from neurofond.fond import IterativeVAE, ModelConfig
from neurofond.fond.model import InferenceState


def _tiny(family: str, seed: int = 0) -> IterativeVAE:
    cfg = ModelConfig.for_family(family, n_latents=6, n_inputs=9, clamp_stop=1e4)
    model = IterativeVAE(cfg, generator=torch.Generator().manual_seed(seed)).double()
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed + 1)
        model.phi.copy_(0.3 * torch.randn(9, 6, generator=g, dtype=torch.float64))
        model.log_sigma_x.copy_(0.2 * torch.randn(9, generator=g, dtype=torch.float64))
        model.log_eta.fill_(-1.3)
        model.log_bias.copy_(torch.linspace(-3, -1, 6, dtype=torch.float64))
        if not model.is_poisson:
            model.log_eta_xi.fill_(-0.7)
        if family == "gaussian_relu":
            model.log_gain.copy_(torch.linspace(-0.5, 0.5, 6, dtype=torch.float64))
    return model


def test_poisson_update_is_natural_gradient_step():
    model = _tiny("poisson")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 9, generator=g, dtype=torch.float64)
    u = (0.5 * torch.randn(4, 6, generator=g, dtype=torch.float64)).requires_grad_(True)
    rate = torch.exp(u)
    sx2 = model.sigma_x2().detach()
    phi = model.phi.detach()
    bias = torch.exp(model.log_bias).detach()
    free_energy = (0.5 * ((x - rate @ phi.T) ** 2 / sx2).sum() + (bias * rate).sum())
    (grad,) = torch.autograd.grad(free_energy, u)
    natural = grad / torch.exp(u)  # Fisher of Poisson in its log-rate: diag(exp(u))
    eta = torch.exp(model.log_eta).detach()
    state = InferenceState(u=u.detach(), response=rate.detach())
    with torch.no_grad():
        drive = ((x - model.decode(state.response)) / model.sigma_x2()) @ model.phi
        new_u, _ = model.update(state, drive)
    torch.testing.assert_close(new_u - u.detach(), -eta * natural, rtol=1e-6, atol=1e-9)


def test_gaussian_updates_are_natural_gradient_steps():
    for family in ("gaussian", "gaussian_relu"):
        model = _tiny(family)
        g = torch.Generator().manual_seed(5)
        x = torch.randn(4, 9, generator=g, dtype=torch.float64)
        mu = torch.randn(4, 6, generator=g, dtype=torch.float64).requires_grad_(True)
        xi = (0.3 * torch.randn(4, 6, generator=g, dtype=torch.float64)).requires_grad_(True)
        eps = torch.randn(4, 6, generator=g, dtype=torch.float64)
        z = mu + torch.exp(xi) * eps
        a, gain = model._activation(z)
        recon = 0.5 * ((x - a @ model.phi.detach().T) ** 2 / model.sigma_x2().detach()).sum()
        d_mu, d_xi = torch.autograd.grad(recon, (mu, xi))
        sigma2 = torch.exp(2 * xi.detach())
        eta_mu = torch.exp(model.log_eta).detach()
        eta_xi = torch.exp(model.log_eta_xi).detach()
        bias = torch.exp(model.log_bias).detach()
        # Fisher information: 1/sigma^2 for mu, 2 for log sigma.
        expected_dmu = -eta_mu * sigma2 * d_mu - eta_mu * bias
        expected_dxi = -eta_xi * d_xi / 2.0
        state = InferenceState(u=mu.detach(), response=a.detach(), xi=xi.detach(), eps=eps,
                               gain=None if gain is None else gain.detach())
        with torch.no_grad():
            drive = ((x - model.decode(state.response)) / model.sigma_x2()) @ model.phi
            cfg = model.config
            # undo the tanh clamps to read the raw update
            new_mu, new_xi = model.update(state, drive)
            dmu = cfg.clamp_du[0] * torch.atanh(
                (cfg.clamp_u[0] * torch.atanh(new_mu / cfg.clamp_u[0]) - mu) / cfg.clamp_du[0])
            dxi = cfg.clamp_du[1] * torch.atanh(
                (cfg.clamp_u[1] * torch.atanh(new_xi / cfg.clamp_u[1]) - xi) / cfg.clamp_du[1])
        torch.testing.assert_close(dmu, expected_dmu, rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(dxi, expected_dxi, rtol=1e-6, atol=1e-9)


def test_lateral_competition_through_gram_matrix():
    """g = Phi^T x / s2 - (Phi^T diag(1/s2) Phi) z: the drive minus explaining-away."""
    model = _tiny("poisson")
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 9, generator=g, dtype=torch.float64)
    z = torch.poisson(torch.full((3, 6), 1.5, dtype=torch.float64), generator=g)
    with torch.no_grad():
        direct = ((x - model.decode(z)) / model.sigma_x2()) @ model.phi
        via_gram = model.feedforward(x) - z @ model.gram()
        assert (torch.diagonal(model.gram()) > 0).all()  # self-suppression
    torch.testing.assert_close(direct, via_gram)


def test_ten_thousand_steps_stay_finite():
    """With the model's stabilisers (Poisson soft clamp at its default c = 10, not the tiny
    test model's inactive 1e4), 10^4 steps of strongly recurrent inference stay finite."""
    for family in ("poisson", "gaussian", "gaussian_relu"):
        model = _tiny(family).float()
        with torch.no_grad():
            model.phi.mul_(3.0)  # strong recurrence
            model.clamp_c.fill_(ModelConfig.for_family(family).clamp_stop)
        x = 3 * torch.randn(8, 9, generator=torch.Generator().manual_seed(1))
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            state = model.initial_state(8, generator=gen)
            for _ in range(10_000):
                state, residual = model.step(state, x, generator=gen)
        assert torch.isfinite(state.u).all() and torch.isfinite(residual).all(), family
        assert state.u.max() <= float(model.clamp_c) + 1e-4 or not model.is_poisson
