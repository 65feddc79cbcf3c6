"""The V1 survey (neurofond.insilico.survey, analyses/v1_survey.py) on tiny configurations.

Fast tests use K=32 random-Gabor checkpoints of the three families (as
tests/test_analyses_scripts.py), the LNP baselines and two recorded Ecker 2010 sessions; the
slow test runs the shipped iP-VAE. Assertions: every measure present per source (values or
a reason), plausible ranges, closed-form expectations of the Poisson baselines, the Ecker
mean r_sc of the whole static release against the value measured independently this
session (analyses/correlations.py: 0.0081), and the output-folder rules.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing, save_checkpoint
from neurofond.insilico import survey
from neurofond.population import random_gabor_dictionary

ECKER = Path("ecker2010_v1_gratings") / "data_v1_binned_static.mat"
SCRIPT = Path(__file__).resolve().parents[1] / "analyses" / "v1_survey.py"
K = 32


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _checkpoint(folder: Path, family: str) -> Path:
    model = IterativeVAE(ModelConfig.for_family(family, n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    phi = torch.from_numpy(random_gabor_dictionary(K, 16, seed=1))
    with torch.no_grad():
        model.phi.copy_(phi * (0.3 if family == "poisson" else 1.0))
        model.log_eta.fill_(math.log(0.1))
    path = folder / f"{family}-k{K}.safetensors"
    save_checkpoint(model, path, preprocessing=Preprocessing(), overwrite=True)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ckpt")
    return {fam: _checkpoint(folder, fam) for fam in ("poisson", "gaussian")}


def _ecker(shared_data_dir: Path) -> Path:
    path = shared_data_dir / ECKER
    if not path.is_file():
        pytest.skip(f"Ecker 2010 static data not found at {path}")
    return path


def _check_source(entry: dict) -> None:
    """Every measure present: a value dict or a reason; plausible ranges."""
    m = entry["measures"]
    assert set(m) == set(survey.MEASURES), (entry["name"], set(m) ^ set(survey.MEASURES))
    for key, value in m.items():
        assert isinstance(value, dict) and value, (entry["name"], key)
        if "reason" in value:
            assert len(value["reason"]) > 20, (entry["name"], key)
    o = m["orientation_selectivity"]
    assert 0 <= o["n_responsive"] <= o["n_neurons"] == entry["n_neurons"]
    if o["n_responsive"]:
        assert 0.0 <= o["osi"]["q25"] <= o["osi"]["median"] <= o["osi"]["q75"] <= 1.0
        assert 0.0 <= o["fraction_selective"] <= 1.0
    rel = m["reliability"]
    assert -1.0 <= rel["median"] <= 1.0
    r = m["noise_correlation"]
    assert r["n"] > 0 and -1.0 <= r["mean"] <= 1.0 and r["sem"] > 0
    if entry["spiking"]:
        assert m["fano_factor"]["n"] > 0 and m["fano_factor"]["median"] > 0
    else:
        assert "reason" in m["fano_factor"]
    ls = m["lifetime_sparseness"]
    if ls["n"]:
        assert 0.0 <= ls["q25"] <= ls["q75"] <= 1.0
    lat = m["latency"]["onset_ms"]
    if lat["n"]:
        assert 0.0 <= lat["median"] <= 200.0


def test_tiny_survey_every_source(tmp_path, checkpoints, shared_data_dir):
    ecker = _ecker(shared_data_dir)
    res = survey.run_survey(tmp_path, models=[str(checkpoints["poisson"])],
                            baselines=["stimulus-floor"], recordings=ecker,
                            mode="tiny", progress=False)
    on_disk = json.loads((tmp_path / "survey.json").read_text())
    assert set(on_disk["sources"]) == {"poisson-k32", "stimulus-floor", "ecker2010"}
    assert set(res["sources"]) == set(on_disk["sources"])
    assert on_disk["settings"]["mode"] == "tiny" and on_disk["settings"]["seed"] == 0
    for entry in on_disk["sources"].values():
        _check_source(entry)
    kinds = {n: e["kind"] for n, e in on_disk["sources"].items()}
    assert kinds["poisson-k32"] == "model" and kinds["ecker2010"] == "recorded"
    # model-only experiments measured for models, with a reason elsewhere
    for name in ("poisson-k32",):
        m = on_disk["sources"][name]["measures"]
        assert set(m["size_tuning"]) >= {"si", "preferred_size_deg"}
        assert m["size_tuning"]["diameters_deg"] == [0.25, 0.5, 1.0, 2.0]
        assert m["cross_orientation"]["mask_contrast"] == 0.5
        assert "dsi" in m["direction"]
        assert "c50" in m["contrast_response"]
        rf = m["receptive_field"]
        assert rf["n_neurons"] == 4 and 0.0 <= rf["fraction_significant"] <= 1.0
        if rf["n_fitted"]:
            assert 0.0 < rf["sigma_deg"]["median"] < 1.0  # within the 1-deg patch
    for name in ("stimulus-floor", "ecker2010"):
        for key in ("size_tuning", "cross_orientation", "direction", "receptive_field"):
            assert "reason" in on_disk["sources"][name]["measures"][key]
    # two contrasts per Ecker session: no Naka-Rushton fit, and it says why
    assert "2 contrast" in on_disk["sources"]["ecker2010"]["measures"]["contrast_response"][
        "reason"]
    # independent Poisson LNP channels: Fano ~ (n-1)/n = 0.9 (ddof=0), r_sc ~ 0
    fl = on_disk["sources"]["stimulus-floor"]["measures"]
    assert 0.75 < fl["fano_factor"]["mean"] < 1.05
    assert abs(fl["noise_correlation"]["mean"]) < 4 * fl["noise_correlation"]["sem"] + 0.01
    # the stimulus floor's von Mises bumps (kappa 2) are orientation-tuned, the untuned
    # channel is not
    assert fl["orientation_selectivity"]["osi"]["median"] > 0.3
    assert (tmp_path / "survey_distributions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "survey_table.md").read_text().splitlines()
    assert len(table) == 2 + 3 and table[0].count("|") == table[2].count("|") == 17
    assert on_disk["order"] == ["poisson-k32", "stimulus-floor", "ecker2010"]
    assert [row.split("|")[1].strip() for row in table[2:]] == on_disk["order"]
    ecker_row = table[-1]
    assert ecker_row.count("n/a") == 6  # c50, SSI, preferred size, XOS, DSI, RF
    rsc = on_disk["sources"]["ecker2010"]["measures"]["noise_correlation"]
    assert f"{rsc['mean']:.4f} +/- {rsc['sem']:.4f} ({rsc['n']})" in ecker_row
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.data
def test_ecker_mean_r_sc_whole_release(shared_data_dir):
    """All 17 static sessions: mean r_sc as measured by analyses/correlations.py (0.0081)."""
    ecker = _ecker(shared_data_dir)
    cfg = dict(survey.PRESETS["quick"])
    entry, vals = survey.ecker_source(cfg, path=ecker)
    m = entry["measures"]
    assert entry["n_sessions"] == 17 and entry["n_neurons"] == 211
    assert abs(m["noise_correlation"]["mean"] - 0.0081) < 0.01
    assert m["noise_correlation"]["n"] == vals["noise_correlation"].size > 500
    np.testing.assert_allclose(m["noise_correlation"]["mean"],
                               np.mean(vals["noise_correlation"]), rtol=1e-12)
    # cortical variability is super-Poisson; V1 units are orientation-selective
    assert 1.0 < m["fano_factor"]["median"] < 2.5
    assert m["orientation_selectivity"]["fraction_selective"] > 0.5
    assert 20.0 < m["latency"]["onset_ms"]["median"] < 120.0
    assert 0.0 < m["reliability"]["median"] < 0.5


def test_output_folder_rules_and_bad_input(tmp_path, checkpoints):
    (tmp_path / "other.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not empty"):
        survey.run_survey(tmp_path, models=[], baselines=[], recordings=None, mode="tiny")
    with pytest.raises(FileExistsError, match="does not write"):
        survey.run_survey(tmp_path, models=[], baselines=[], recordings=None, mode="tiny",
                          overwrite=True)
    assert (tmp_path / "other.txt").read_text() == "keep"
    fresh = tmp_path / "fresh"
    with pytest.raises(ValueError, match="mode"):
        survey.run_survey(fresh, mode="huge")
    with pytest.raises(ValueError, match="baselines"):
        survey.run_survey(fresh, models=[], baselines=["nope"], recordings=None, mode="tiny")
    with pytest.raises(ValueError, match="models"):
        survey.run_survey(fresh, models=["no-such-model"], baselines=[], recordings=None,
                          mode="tiny")
    with pytest.raises(ValueError, match="recordings"):
        survey.run_survey(fresh, models=[], baselines=[], recordings=tmp_path / "x.mat",
                          mode="tiny")
    assert not fresh.exists()  # nothing written on bad input


def test_script_is_thin_and_refuses_nonempty_out(tmp_path, checkpoints):
    text = SCRIPT.read_text()
    assert "sys.path" not in text and "run_survey" in text
    spec = importlib.util.spec_from_file_location("analyses_v1_survey", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    out = tmp_path / "out"
    args = ["--out", str(out), "--tiny", "--models", str(checkpoints["gaussian"]),
            "--baselines", "pixel-pca", "lca", "--no-recordings", "--no-progress"]
    assert mod.main(args) == 0
    first = json.loads((out / "survey.json").read_text())
    entry = first["sources"]["gaussian-k32"]
    _check_source(entry)
    # signed iG-VAE activations: no Fano factor; selectivity on rectified activations
    assert not entry["spiking"] and "reason" in entry["measures"]["fano_factor"]
    assert "rectified" in entry["measures"]["orientation_selectivity"]["note"]
    _check_source(first["sources"]["pixel-pca"])
    _check_source(first["sources"]["lca"])  # the shipped LCA dictionary (ON/OFF channels)
    assert first["order"] == ["gaussian-k32", "pixel-pca", "lca"]
    assert mod.main(args) == 2  # not empty
    assert mod.main([*args, "--overwrite"]) == 0
    again = json.loads((out / "survey.json").read_text())
    assert again["sources"] == first["sources"]  # same seed, same numbers


@pytest.mark.slow
def test_shipped_ipvae_tiny():
    entry, vals = survey.model_source("ipvae-k512-b24-photos", survey.PRESETS["tiny"])
    _check_source(entry)
    m = entry["measures"]
    assert entry["spiking"] and m["fano_factor"]["median"] > 0
    assert 0.0 <= m["direction"]["dsi"]["median"] <= 1.0
    assert m["size_tuning"]["si"]["n"] >= 1
