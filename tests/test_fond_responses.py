"""The model owns its per-family responses: mean_response = E_q[a(z)], response_at_mean = a(E_q[z]).

Checked against closed forms computed independently (scipy) and against the mean of the
responses the model itself samples.
"""

import numpy as np
import pytest
import torch
from scipy import stats

from neurofond.fond import IterativeVAE, ModelConfig
from neurofond.fond.model import RESPONSE_CONVENTIONS, InferenceState


def _model(family: str) -> IterativeVAE:
    cfg = ModelConfig.for_family(family, n_latents=5, n_inputs=9)
    model = IterativeVAE(cfg, generator=torch.Generator().manual_seed(0)).double()
    if family == "gaussian_relu":
        with torch.no_grad():
            model.log_gain.copy_(torch.linspace(-0.7, 0.4, 5, dtype=torch.float64))
    return model


def _gaussian_state(mu: np.ndarray, sigma: np.ndarray) -> InferenceState:
    u = torch.as_tensor(mu, dtype=torch.float64)
    return InferenceState(u=u, response=torch.zeros_like(u),
                          xi=torch.log(torch.as_tensor(sigma, dtype=torch.float64)))


MU = np.array([[-3.0, -0.4, 0.0, 0.3, 2.5], [1.0, -1.0, 0.05, -6.0, 4.0]])
SIGMA = np.array([[0.5, 1.0, 0.2, 2.0, 0.1], [3.0, 0.3, 1.5, 1.0, 0.7]])


def test_grelu_mean_response_is_the_closed_form_mean_of_a_rectified_gaussian():
    model = _model("gaussian_relu")
    gain = np.exp(model.log_gain.detach().numpy())
    got = model.mean_response(_gaussian_state(MU, SIGMA)).detach().numpy()
    # E[relu(z)], z ~ N(mu, s^2) = mu Phi(mu/s) + s phi(mu/s)
    ratio = MU / SIGMA
    want = gain * (MU * stats.norm.cdf(ratio) + SIGMA * stats.norm.pdf(ratio))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # and independently by numerical integration for one entry
    f = lambda z: max(z, 0.0) * stats.norm.pdf(z, loc=MU[0, 3], scale=SIGMA[0, 3])  # noqa: E731
    from scipy.integrate import quad

    integral, _ = quad(f, MU[0, 3] - 12 * SIGMA[0, 3], MU[0, 3] + 12 * SIGMA[0, 3])
    assert got[0, 3] == pytest.approx(gain[3] * integral, rel=1e-8)
    assert (got >= 0).all()


def test_grelu_response_at_mean_is_gain_relu_mu_and_below_the_mean_response():
    model = _model("gaussian_relu")
    gain = np.exp(model.log_gain.detach().numpy())
    state = _gaussian_state(MU, SIGMA)
    at_mean = model.response_at_mean(state).detach().numpy()
    np.testing.assert_allclose(at_mean, gain * np.maximum(MU, 0.0), rtol=1e-15, atol=0)
    # Jensen: relu is convex, so g relu(E z) <= g E relu(z), strictly where the posterior
    # puts visible mass on both sides of 0 (|mu| / sigma small)
    mean = model.mean_response(state).detach().numpy()
    assert (at_mean <= mean).all()
    near = np.abs(MU / SIGMA) < 5
    assert near.sum() >= 5 and (at_mean[near] < mean[near]).all()


def test_gaussian_mean_response_is_the_signed_mean():
    model = _model("gaussian")
    state = _gaussian_state(MU, SIGMA)
    np.testing.assert_array_equal(model.mean_response(state).numpy(), MU)
    np.testing.assert_array_equal(model.response_at_mean(state).numpy(), MU)
    assert (model.mean_response(state).numpy() < 0).any()  # signed, not rectified


def test_poisson_mean_response_is_the_rate_in_spikes_per_step():
    model = _model("poisson")
    u = torch.tensor([[-2.0, 0.0, 0.5, 1.0, 2.0]], dtype=torch.float64)
    state = InferenceState(u=u, response=torch.zeros_like(u))
    np.testing.assert_allclose(model.mean_response(state).numpy(), np.exp(u.numpy()), rtol=1e-15)
    np.testing.assert_array_equal(model.response_at_mean(state).numpy(),
                                  model.mean_response(state).numpy())


@pytest.mark.parametrize("family", ["poisson", "gaussian", "gaussian_relu"])
def test_mean_response_is_the_mean_of_what_the_model_samples(family):
    """The definition cannot drift from the sampler: average many sampled responses."""
    model = _model(family)
    n = 200_000
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        if family == "poisson":
            model.prior_u.copy_(torch.tensor([-1.0, 0.0, 0.7, 1.5, 2.2], dtype=torch.float64))
        else:
            model.prior_u.copy_(torch.tensor([-1.0, -0.2, 0.0, 0.4, 1.5], dtype=torch.float64))
            model.prior_xi.copy_(torch.log(torch.tensor([0.5, 1.0, 2.0, 0.3, 0.8],
                                                        dtype=torch.float64)))
        state = model.initial_state(n, generator=gen)
        mean = model.mean_response(state)[0].numpy()
        sampled = state.response.double()
        emp, sem = sampled.mean(0).numpy(), sampled.std(0).numpy() / np.sqrt(n)
    assert np.all(np.abs(emp - mean) < 5 * sem + 1e-12), (emp, mean, sem)


def test_response_conventions_state_units_and_sign():
    assert set(RESPONSE_CONVENTIONS) == {"poisson", "gaussian", "gaussian_relu"}
    assert RESPONSE_CONVENTIONS["poisson"].spikes and not RESPONSE_CONVENTIONS["poisson"].signed
    assert "spikes per step" in RESPONSE_CONVENTIONS["poisson"].mean_units
    assert RESPONSE_CONVENTIONS["gaussian"].signed
    assert not RESPONSE_CONVENTIONS["gaussian_relu"].signed
    for family in ("gaussian", "gaussian_relu"):
        conv = RESPONSE_CONVENTIONS[family]
        assert "a.u." in conv.response_units and "not spikes" in conv.mean_units
        assert _model(family).response_convention is conv
