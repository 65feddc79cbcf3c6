"""neurofond import-official: the authors' IterativeVAE checkpoints, read without executing code.

The files here are written in the layout of the authors' code (hadivafaii/IterativeVAE:
``base/train_base.py`` BaseTrainer.save -> ``torch.save({"metadata", "model", "model_ema",
"optim", "scheduler"})``, keys from ``main/layers.py``, JSON config beside the file) from
random tensors. The reference update below is re-implemented from ALGORITHM.md and the
authors' ``infer_grad`` (floor then soft upper clamp on du and on u; Gaussian tanh clamps).
"""

from __future__ import annotations

import json
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurofond.fond.checkpoint import load_checkpoint
from neurofond.fond.model import InferenceState
from neurofond.pretrained.official import (
    OfficialImportError,
    RefusedGlobalError,
    import_official,
    safe_load,
)

D, K = 256, 24

POISSON_CONFIG = {
    "clamp_prior": -4, "prior_log_dist": "uniform", "dataset": "vH16-wht", "t_train": 16,
    "n_iters_outer": 1, "n_iters_inner": 1, "beta_outer": 24.0, "beta_inner": 1.0,
    "n_latents": [K], "inf_type": "grad", "dec_type": "lin", "fit_prior": True,
    "stochastic": True, "init_dist": "normal", "init_scale": 0.0001, "clamp_du": 10.0,
    "clamp_u": 10.0, "seed": 0, "track_stats": False,
}
GAUSSIAN_CONFIG = {
    "latent_act": None, "dataset": "vH16-wht", "t_train": 16, "n_iters_outer": 1,
    "n_iters_inner": 1, "beta_outer": 8.0, "beta_inner": 1.0, "n_latents": [K],
    "inf_type": "grad", "dec_type": "lin", "fit_prior": True, "stochastic": True,
    "init_dist": "normal", "init_scale": 0.0001, "clamp_du": [7.0, 3.0],
    "clamp_u": [7.0, 2.0], "seed": 0, "track_stats": False,
}
TRAIN_CONFIG = {"lr": 0.005, "epochs": 300, "batch_size": 200, "temp_stop": 0.01}


def their_state_dict(family: str, seed: int = 0, eps: float = 1.0) -> OrderedDict:
    """A model.state_dict() of the authors' IPVAE / IGVAE, random values, their shapes."""
    g = torch.Generator().manual_seed(seed)
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    sd["layer.dec_log_sigma"] = 0.3 * torch.randn(1, D, generator=g)
    sd["layer.log_bias"] = -3.0 + 0.5 * torch.randn(1, K, generator=g)
    sd["layer.phi.weight"] = 0.08 * torch.randn(D, K, generator=g)
    if family == "gaussian_relu":
        sd["layer.activation.log_gain"] = 0.2 * torch.randn(1, K, generator=g)
    n_state = 1 if family == "poisson" else 2
    for i in range(n_state):
        sd[f"layer.log_lr.{i}"] = 0.3 * torch.randn(1, generator=g) - 0.5
    if family == "poisson":
        sd["layer.u_init.0"] = -6.0 + 2.0 * torch.rand(1, K, generator=g)
    else:
        sd["layer.u_init.0"] = 0.2 * torch.randn(1, K, generator=g)
        sd["layer.u_init.1"] = -0.5 + 0.2 * torch.randn(1, K, generator=g)
    sd["layer.temp"] = torch.tensor(0.01 if family == "poisson" else 1.0)
    sd["layer.beta_inner"] = torch.tensor(1.0)
    sd["layer.eps"] = torch.tensor(eps)
    if family == "poisson":
        sd["layer.n_exp"] = torch.full((16,), 10, dtype=torch.int)
    return sd


def write_their_run(folder: Path, family: str, *, seed: int = 0, eps: float = 1.0,
                    state: dict | None = None, config: dict | None = None,
                    extra_metadata: dict | None = None) -> Path:
    """A run folder as the authors' trainer leaves it: config JSONs + one .pt file."""
    folder.mkdir(parents=True, exist_ok=True)
    sd = their_state_dict(family, seed, eps) if state is None else state
    if config is None:
        config = dict(POISSON_CONFIG if family == "poisson" else GAUSSIAN_CONFIG)
        if family == "gaussian_relu":
            config["latent_act"] = "relu"
    name = "ConfigPoisVAE.json" if family == "poisson" else "ConfigGausVAE.json"
    (folder / name).write_text(json.dumps(config, indent=4))
    (folder / "ConfigTrain.json").write_text(json.dumps(TRAIN_CONFIG, indent=4))
    params = [v for k, v in sd.items() if v.is_floating_point() and v.ndim > 0]
    optim = {"state": {i: {"step": 3, "exp_avg": torch.zeros_like(p),
                           "exp_inf": torch.zeros_like(p)} for i, p in enumerate(params)},
             "param_groups": [{"lr": 1e-5, "betas": [0.9, 0.999], "eps": 1e-8,
                               "weight_decay": 0.0003, "params": list(range(len(params)))}]}
    metadata = {
        "timestamp": "2025_05_13,12:46", "checkpoint": 300, "global_step": 300 * 520,
        # their stats hold numpy floats (np.nanmean) and python floats keyed by step
        "stats_trainer": {"loss": {0: 1.5, 1: 1.2}, "sprs/%-zero/T=avg": {20: np.float64(0.7)},
                          "grad": {0: float("nan")}},
        "stats_model": {}, "root": str(folder),
        **(extra_metadata or {}),
    }
    blob = {"metadata": metadata, "model": sd, "model_ema": None, "optim": optim,
            "scheduler": {"T_max": 298.5, "eta_min": 1e-05, "base_lrs": [0.005],
                          "last_epoch": 298, "_step_count": 299, "verbose": False,
                          "_get_lr_called_within_step": False, "_last_lr": [1e-05]}}
    tag = "IPVAE" if family == "poisson" else "IGVAE"
    path = folder / f"{tag}+Trainer-0300_(2025_05_13,16:11).pt"
    torch.save(blob, path)
    return path


# ------------------------------------------------------------------ reference update
def softclamp_upper(x: torch.Tensor, c: float) -> torch.Tensor:
    return c - F.softplus(c - x)


def softclamp_sym(x: torch.Tensor, c: float) -> torch.Tensor:
    return c * torch.tanh(x / c)


def reference_poisson_step(sd, x, u_prev, z_prev):
    """u_t from u_{t-1} and the spikes z_{t-1}, the authors' order of operations."""
    sd = {k: v.double() for k, v in sd.items()}
    phi = sd["layer.phi.weight"]
    log_sigma = softclamp_sym(sd["layer.dec_log_sigma"], 3.45)
    var = torch.exp(2.0 * log_sigma)
    error = (x - z_prev @ phi.T) / var          # (x - Phi z) / sigma_x^2
    g = error @ phi                             # Phi^T (.)
    grad_f = -g + torch.exp(sd["layer.log_bias"])
    du = torch.exp(sd["layer.log_lr.0"]) * (-grad_f)
    c = 2.0 + float(sd["layer.eps"]) * (POISSON_CONFIG["clamp_u"] - 2.0)
    du = softclamp_upper(du.clamp(min=-8.0), c)
    return softclamp_upper((u_prev + du).clamp(min=-8.0), c)


def reference_gaussian_step(sd, x, mu, xi, noise, relu: bool):
    sd = {k: v.double() for k, v in sd.items()}
    phi = sd["layer.phi.weight"]
    var = torch.exp(2.0 * softclamp_sym(sd["layer.dec_log_sigma"], 3.45))
    sigma = torch.exp(xi)
    z = mu + sigma * noise
    if relu:
        gain = torch.exp(sd["layer.activation.log_gain"])
        a, deriv = F.relu(z) * gain, (z > 0).double() * gain
    else:
        a, deriv = z, torch.ones_like(z)
    grad_recon = -deriv * (((x - a @ phi.T) / var) @ phi)
    grad_mu = grad_recon * sigma ** 2 + torch.exp(sd["layer.log_bias"])
    grad_xi = grad_recon * noise * sigma * 0.5
    e = float(sd["layer.eps"])
    c_du = [1.0 + e * (c - 1.0) for c in GAUSSIAN_CONFIG["clamp_du"]]
    c_u = [1.0 + e * (c - 1.0) for c in GAUSSIAN_CONFIG["clamp_u"]]
    dmu = softclamp_sym(torch.exp(sd["layer.log_lr.0"]) * -grad_mu, c_du[0])
    dxi = softclamp_sym(torch.exp(sd["layer.log_lr.1"]) * -grad_xi, c_du[1])
    return softclamp_sym(mu + dmu, c_u[0]), softclamp_sym(xi + dxi, c_u[1])


def _inputs(batch: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, D, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


# ---------------------------------------------------------------------------- mapping
@pytest.mark.parametrize("eps", [1.0, 0.7])
def test_poisson_step_matches_reference_on_injected_spikes(tmp_path, eps):
    path = write_their_run(tmp_path / "run", "poisson", eps=eps)
    sd = their_state_dict("poisson", eps=eps)
    model = import_official(path).double()
    assert model.config.family == "poisson" and model.config.kl_variant == "reference"
    x = _inputs()
    g = torch.Generator().manual_seed(3)
    u_prev = -5.0 + 4.0 * torch.rand(x.shape[0], K, generator=g, dtype=torch.float64)
    z_prev = torch.poisson(torch.exp(u_prev), generator=g)
    z_prev[0, :5] = torch.tensor([0.0, 1.0, 3.0, 7.0, 12.0], dtype=torch.float64)
    u_prev[1], z_prev[1] = -7.5, 40.0  # a row where the floor at -8 binds
    state = InferenceState(u=u_prev, response=z_prev, rate=torch.exp(u_prev))
    new, _ = model.step(state, x, generator=torch.Generator().manual_seed(0))
    want = reference_poisson_step(sd, x, u_prev, z_prev)
    # neurofond floors after the soft clamp, the reference before: identical except
    # where the floor -8 binds, by at most log1p(exp(-(c + 8))) (1.5e-8 at c = 10)
    assert torch.allclose(new.u, want, rtol=0, atol=1e-6), (new.u - want).abs().max()
    assert (want[1] < -7.99).any() and (want > -7).any()


def test_poisson_trajectory_matches_reference_on_its_own_spikes(tmp_path):
    path = write_their_run(tmp_path / "run", "poisson")
    sd = their_state_dict("poisson")
    model = import_official(path).double()
    x = 3.0 * _inputs(batch=5, seed=4)
    gen = torch.Generator().manual_seed(9)
    state = model.initial_state(x.shape[0], generator=gen)
    ref_prior = sd["layer.u_init.0"].double().expand(x.shape[0], -1)
    assert torch.equal(state.u, ref_prior)
    for _ in range(6):  # same spikes: each step's reference is fed the model's samples
        new, _ = model.step(state, x, generator=gen)
        want = reference_poisson_step(sd, x, state.u, state.response)
        assert torch.allclose(new.u, want, rtol=0, atol=1e-6)
        state = new
    assert state.response.sum() > 0


def test_poisson_float32_step_matches(tmp_path):
    path = write_their_run(tmp_path / "run", "poisson")
    sd = their_state_dict("poisson")
    model = import_official(path)
    assert model.phi.dtype == torch.float32
    x = _inputs().float()
    u_prev = torch.full((x.shape[0], K), -3.0)
    z_prev = torch.ones(x.shape[0], K)
    new, _ = model.step(InferenceState(u=u_prev, response=z_prev), x)
    want = reference_poisson_step(sd, x.double(), u_prev.double(), z_prev.double())
    assert torch.allclose(new.u.double(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["gaussian", "gaussian_relu"])
@pytest.mark.parametrize("eps", [1.0, 0.5])
def test_gaussian_step_matches_reference_on_same_noise(tmp_path, family, eps):
    path = write_their_run(tmp_path / "run", family, eps=eps)
    sd = their_state_dict(family, eps=eps)
    model = import_official(path).double()
    assert model.config.family == family
    x = _inputs(seed=5)
    gen = torch.Generator().manual_seed(11)
    state = model.initial_state(x.shape[0], generator=gen)
    for _ in range(4):  # same noise: the reference reads the eps the model drew
        new, _ = model.step(state, x, generator=gen)
        mu, xi = reference_gaussian_step(sd, x, state.u, state.xi, state.eps,
                                         relu=family == "gaussian_relu")
        assert torch.allclose(new.u, mu, rtol=0, atol=1e-6)
        assert torch.allclose(new.xi, xi, rtol=0, atol=1e-6)
        state = new


def test_parameters_mapped_one_to_one(tmp_path):
    path = write_their_run(tmp_path / "run", "gaussian_relu")
    sd = their_state_dict("gaussian_relu")
    model = import_official(path)
    assert torch.equal(model.phi, sd["layer.phi.weight"])
    assert torch.equal(model.log_sigma_x, sd["layer.dec_log_sigma"][0])
    assert torch.equal(model.log_bias, sd["layer.log_bias"][0])
    assert torch.equal(model.prior_u, sd["layer.u_init.0"][0])
    assert torch.equal(model.prior_xi, sd["layer.u_init.1"][0])
    assert torch.equal(model.log_eta, sd["layer.log_lr.0"][0])
    assert torch.equal(model.log_eta_xi, sd["layer.log_lr.1"][0])
    assert torch.equal(model.log_gain, sd["layer.activation.log_gain"][0])
    assert model.config.clamp_du == (7.0, 3.0) and model.config.clamp_u == (7.0, 2.0)
    assert model.config.beta == 8.0 and model.config.n_inputs == D


def test_bare_state_dict_and_config_in_parent_folder(tmp_path):
    # Module.save layout: torch.save(model.state_dict()); load_model_main keeps the model
    # config one folder up from the fit folder
    model_dir = tmp_path / "poisson_vH16-wht_t-16_b-24_k-[512]"
    fit = model_dir / "b200-ep300"
    fit.mkdir(parents=True)
    (model_dir / "ConfigPoisVAE.json").write_text(json.dumps(POISSON_CONFIG))
    path = fit / "IPVAE-0300_(2025_05_13,16:11).pt"
    torch.save(their_state_dict("poisson"), path)
    model = import_official(path)
    assert float(model.clamp_c) == 10.0


def test_save_and_reload_through_cli(tmp_path, capsys):
    from neurofond.cli import main

    path = write_their_run(tmp_path / "run", "poisson")
    out = tmp_path / "imported.safetensors"
    assert main(["import-official", str(path), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["family"] == "poisson" and printed["n_latents"] == K
    model, prep, summary = load_checkpoint(out)
    direct = import_official(path)
    for name, tensor in direct.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    assert prep.source == "official:vH16-wht"
    assert summary["official_metadata"]["checkpoint"] == 300
    assert summary["official_config"]["beta_outer"] == 24.0
    # refuses to overwrite without --overwrite
    assert main(["import-official", str(path), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["import-official", str(path), "--out", str(out), "--overwrite"]) == 0


def test_ema_weights(tmp_path):
    path = write_their_run(tmp_path / "run", "poisson")
    with pytest.raises(OfficialImportError, match="model_ema"):
        import_official(path, use_ema=True)
    blob = safe_load(path)
    blob["model_ema"] = their_state_dict("poisson", seed=5)
    torch.save(blob, path)
    model = import_official(path, use_ema=True)
    assert torch.equal(model.phi, blob["model_ema"]["layer.phi.weight"])


def test_safe_load_reads_plain_values(tmp_path):
    path = tmp_path / "plain.pt"
    value = {"set": {1, 2}, "frozen": frozenset({"a"}), "bytes": b"\x00\xff", "none": None,
             "np": np.arange(3.0), "npf": np.float32(2.5), "t": torch.arange(4, dtype=torch.int64),
             "nested": OrderedDict(a=[1, (2.0, "x")]), "c": 1 + 2j}
    torch.save(value, path)
    got = safe_load(path)
    assert got["set"] == {1, 2} and got["frozen"] == frozenset({"a"})
    assert got["bytes"] == b"\x00\xff" and got["none"] is None and got["c"] == 1 + 2j
    np.testing.assert_array_equal(got["np"], np.arange(3.0))
    assert got["npf"] == np.float32(2.5) and torch.equal(got["t"], torch.arange(4))
    assert got["nested"] == OrderedDict(a=[1, (2.0, "x")])


# -------------------------------------------------------------------- code payloads
class _SystemPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _ExecPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.mark.parametrize("payload", [_SystemPayload, _ExecPayload])
def test_pickle_with_code_payload_is_refused_and_nothing_runs(tmp_path, payload):
    marker = tmp_path / "executed.marker"
    path = write_their_run(tmp_path / "run", "poisson",
                           extra_metadata={"note": payload(marker)})
    expected = "posix.system" if payload is _SystemPayload else "builtins.exec"
    if os.name == "nt" and payload is _SystemPayload:  # pragma: no cover
        expected = "nt.system"
    with pytest.raises(RefusedGlobalError, match=expected) as info:
        import_official(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
    # the same through the CLI: clean error, exit code 2, no marker
    from neurofond.cli import main

    assert main(["import-official", str(path), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert not marker.exists() and not (tmp_path / "x.safetensors").exists()


def test_plain_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "executed.marker"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"model": _SystemPayload(marker)}, protocol=2))
    with pytest.raises(RefusedGlobalError, match="system"):
        safe_load(path)
    path.write_bytes(pickle.dumps(_ExecPayload(marker), protocol=4))
    with pytest.raises(RefusedGlobalError, match="builtins.exec"):
        safe_load(path)
    assert not marker.exists()


def test_object_of_arbitrary_class_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(RefusedGlobalError, match="refused global torch.nn"):
        safe_load(path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(OfficialImportError, match="TorchScript"):
        safe_load(path)


# ---------------------------------------------------------------- foreign / corrupt
def test_random_bytes_give_clear_error_naming_path(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(OfficialImportError, match="not a readable PyTorch checkpoint") as info:
        import_official(path, config=POISSON_CONFIG)
    assert str(path) in str(info.value)


def test_truncated_file_gives_clear_error(tmp_path):
    path = write_their_run(tmp_path / "run", "poisson")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OfficialImportError) as info:
        import_official(path)
    assert str(path) in str(info.value)


def test_foreign_files(tmp_path):
    safet = tmp_path / "ours.safetensors"
    from neurofond.pretrained import pretrained_path

    safet.write_bytes(pretrained_path("ipvae-k512-b24-photos").read_bytes())
    with pytest.raises(OfficialImportError) as info:
        import_official(safet, config=POISSON_CONFIG)
    assert str(safet) in str(info.value)
    text = tmp_path / "cfg.pt"
    text.write_text(json.dumps(POISSON_CONFIG))
    with pytest.raises(OfficialImportError, match=str(text)):
        import_official(text, config=POISSON_CONFIG)
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        import_official(tmp_path / "nothere.pt")
    other = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(OfficialImportError, match="unknown layout"):
        import_official(other, config=POISSON_CONFIG)


# ------------------------------------------------------------ layouts and settings
def test_missing_config_is_named(tmp_path):
    path = tmp_path / "lonely.pt"
    torch.save(their_state_dict("poisson"), path)
    with pytest.raises(OfficialImportError, match="ConfigPoisVAE.json"):
        import_official(path)


def test_missing_key_and_shape_mismatch_are_named(tmp_path):
    sd = their_state_dict("poisson")
    del sd["layer.log_bias"]
    path = write_their_run(tmp_path / "a", "poisson", state=sd)
    with pytest.raises(OfficialImportError, match="layer.log_bias"):
        import_official(path)
    sd = their_state_dict("poisson")
    sd["layer.u_init.0"] = torch.zeros(1, K + 1)
    path = write_their_run(tmp_path / "b", "poisson", state=sd)
    with pytest.raises(OfficialImportError, match=r"layer.u_init.0.*shape"):
        import_official(path)
    sd = their_state_dict("poisson")
    sd["layer.phi.weight"] = torch.zeros(100, K)
    path = write_their_run(tmp_path / "c", "poisson", state=sd)
    with pytest.raises(OfficialImportError, match="layer.phi.weight"):
        import_official(path)
    # Gaussian weights with a Poisson config
    path = write_their_run(tmp_path / "d", "poisson", state=their_state_dict("gaussian"))
    with pytest.raises(OfficialImportError, match="layer.log_lr.1|layer.u_init.1"):
        import_official(path)


@pytest.mark.parametrize("field, value, family", [
    ("latent_act", "softplus", "gaussian"),
    ("inf_type", "leapfrog", "poisson"),
    ("dec_type", "conv", "poisson"),
    ("n_iters_inner", 3, "poisson"),
    ("n_latents", [K, 16], "poisson"),
    ("clamp_du", 7.0, "poisson"),
])
def test_unsupported_settings_name_the_field(tmp_path, field, value, family):
    config = dict(POISSON_CONFIG if family == "poisson" else GAUSSIAN_CONFIG)
    config[field] = value
    path = write_their_run(tmp_path / "run", family, config=config)
    with pytest.raises(OfficialImportError, match=field):
        import_official(path)


def test_laplace_model_is_refused(tmp_path):
    path = write_their_run(tmp_path / "run", "gaussian")
    (path.parent / "ConfigGausVAE.json").rename(path.parent / "ConfigLapVAE.json")
    with pytest.raises(OfficialImportError, match="laplace"):
        import_official(path)
