"""The shipped population: loads safely, reproduces its figures, keeps the paper's order."""

import json

import pytest

from neurofond.fond import evaluate
from neurofond.fond.data import heldout_patches
from neurofond.pretrained import DEFAULT_MODEL, list_pretrained, load_model, load_pretrained

# Regression values: 500 held-out photo patches (seed 0), 100 inference steps, sampler seed 0,
# compiled spike sampler. Measured on the release checkpoints (docs/pretrained.md). The iP-VAE
# values changed on 2026-12-04 with the retrained shipped iP-VAE (28000 steps instead of 8000;
# was 0.6581 / 0.8835 / 0.8654): the model changed, not the evaluation. The iG-VAE values
# changed the same day with its retrain on the same 28000-step schedule (was 3000 steps;
# was 0.8479 / 0.9648 / 0), and so did the iGrelu-VAE's (was 0.8312 / 0.9057 / 0.5815).
REGRESSION = {
    "igvae-k512-b8-photos": {"r2": 0.8508, "r2_map": 0.9639, "zeros": 0.0},
    "igrelu-k512-b8-photos": {"r2": 0.6793, "r2_map": 0.7858, "zeros": 0.8233},
    "ipvae-k512-b24-photos": {"r2": 0.8468, "r2_map": 0.9423, "zeros": 0.7934},
}


@pytest.fixture(scope="module")
def summaries():
    out = {}
    for row in list_pretrained():
        model, prep, _ = load_pretrained(row["name"])
        out[row["name"]] = evaluate(model, heldout_patches(prep, 500, seed=0), 100,
                                    seed=0).summary
    return out


def test_shipped_models_are_listed_with_expected_names():
    names = [r["name"] for r in list_pretrained()]
    assert set(REGRESSION) <= set(names)
    assert all(n.split("-")[0] in ("ipvae", "igvae", "igrelu") for n in names)
    for row in list_pretrained():
        assert row["n_latents"] == 512
        meta = json.loads(open(row["path"].replace(".safetensors", ".json")).read())
        assert meta["summary"]["command"].startswith("neurofond train")
        assert meta["summary"]["train_seconds"] > 0 and meta["log"]


def test_regression_values(summaries):
    for name, expected in REGRESSION.items():
        got = summaries[name]
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=0.01), (name, key)


def test_paper_ordering(summaries):
    """At T = 100: iGrelu > iG = 0 in zeros; iG-VAE reconstructs best.

    iP > iGrelu in zeros is not asserted here: at T = 100 the 28000-step iGrelu-VAE is the
    sparser (0.823 vs 0.793 on these patches); the iP-VAE overtakes it by sparsifying after
    its R^2 has converged (test_paper_ordering_of_zeros_at_t1000).
    """
    ig, igrelu = summaries["igvae-k512-b8-photos"], summaries["igrelu-k512-b8-photos"]
    assert ig["zeros"] == 0.0 < igrelu["zeros"]
    assert ig["r2"] > igrelu["r2"]
    ip = summaries[DEFAULT_MODEL]
    assert ig["r2"] > ip["r2"]


def test_paper_ordering_of_zeros_at_t1000(summaries):
    """zeros iP > iGrelu > iG = 0 at T = 1000 (the paper's test length), recomputed on 200
    held-out photo patches and as stored in the model cards (10^4 patches, photos and
    Olshausen 8-9)."""
    zeros = {}
    for name in (DEFAULT_MODEL, "igrelu-k512-b8-photos"):
        model, prep, _ = load_pretrained(name)
        zeros[name] = evaluate(model, heldout_patches(prep, 200, seed=0), 1000,
                               seed=0).summary["zeros"]
    assert zeros[DEFAULT_MODEL] > zeros["igrelu-k512-b8-photos"] + 0.02
    assert summaries["igvae-k512-b8-photos"]["zeros"] == 0.0
    cards = {r["name"]: r["card"] for r in list_pretrained()}
    for data in ("heldout_photos", "olshausen_8_9"):
        ip, igrelu, ig = (cards[n]["evaluation"][data]["zeros"] for n in
                          (DEFAULT_MODEL, "igrelu-k512-b8-photos", "igvae-k512-b8-photos"))
        assert ip > igrelu > 0.5 and ig < 1e-6, data


def test_load_model_accepts_names_and_paths():
    row = list_pretrained()[0]
    by_name = load_model(row["name"])[0]
    by_path = load_model(row["path"])[0]
    assert by_name.config == by_path.config


# --------------------------------------------------------------------------- resolution


def test_resolve_checkpoint_names_and_paths(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from neurofond.pretrained import resolve_checkpoint

    row = list_pretrained()[0]
    path = Path(row["path"]).resolve()
    assert resolve_checkpoint(row["name"]) == path
    assert resolve_checkpoint(row["path"]) == path
    assert resolve_checkpoint(Path(row["path"])) == path
    monkeypatch.chdir(path.parent)  # a bare relative file name is a path, not a name
    assert resolve_checkpoint(path.name) == path
    monkeypatch.chdir(tmp_path)
    # a file in the working folder named like a shipped model wins over the shipped one
    (tmp_path / row["name"]).write_bytes(b"x")
    assert resolve_checkpoint(row["name"]) == tmp_path / row["name"]
    assert os.path.isabs(resolve_checkpoint(row["name"]))


def test_resolve_checkpoint_errors_list_shipped_names(tmp_path):
    import neurofond
    from neurofond.pretrained import resolve_checkpoint

    assert neurofond.resolve_checkpoint is resolve_checkpoint
    with pytest.raises(ValueError, match="unknown pretrained model") as err:
        resolve_checkpoint("no-such-model-xyz")
    for row in list_pretrained():
        assert row["name"] in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_checkpoint("runs/no-such-model")  # path-like: not looked up by name
    with pytest.raises(ValueError, match="folder"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="shipped name or a path"):
        resolve_checkpoint(3)
    with pytest.raises(ValueError, match="unknown pretrained model"):
        load_model("ipvae-does-not-exist")


def test_resolve_checkpoints_unique_keys():
    from neurofond.pretrained import resolve_checkpoints

    rows = {r["family"]: r for r in list_pretrained()}
    cks = resolve_checkpoints([rows["poisson"]["name"], rows["gaussian"]["path"]])
    assert [c.key for c in cks] == ["ipvae", "igvae"]
    assert cks[0].label == f"iP-VAE ({rows['poisson']['name']})"
    twice = resolve_checkpoints([rows["poisson"]["name"], rows["poisson"]["path"]])
    assert [c.key for c in twice] == [rows["poisson"]["name"], rows["poisson"]["name"] + "-2"]
    assert twice[0].family == "poisson" and twice[0].path == twice[1].path
    with pytest.raises(ValueError, match="at least one"):
        resolve_checkpoints([])
