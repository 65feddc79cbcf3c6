"""Tests of the dataset registry, cards, lookup, checksums, fetching and CLI."""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import zipfile
from pathlib import Path

import pytest

from neurofond import datasets

EXPECTED = {
    "ecker2010_v1_gratings",
    "ecker2010_v1_gratings_drifting",
    "olshausen1996_whitened_images",
    "skimage_photos",
    "sklearn_sample_images",
}


def test_registry_is_package_data():
    import neurofond

    assert datasets.REGISTRY_FILE.is_file()
    assert datasets.REGISTRY_FILE == Path(neurofond.__file__).parent / "data" / "registry.json"
    assert datasets.CARD_DIR.name == "datasets" and datasets.CARD_DIR.is_dir()
    assert set(datasets.list_datasets()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_card_matches_registry(name):
    info = datasets.dataset_info(name)
    card = Path(info["card_path"])
    assert card.is_file(), card
    text = card.read_text()
    for key in ("## Content", "## Files", "## License", "## Citation", "## Where to obtain it"):
        assert key in text, (card, key)
    assert info["license"] and info["citation"] and info["loader"]
    for f in info["files"]:
        assert f["name"] in text
        if f.get("sha256"):
            assert len(f["sha256"]) == 64 and f["sha256"] in text


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match="ecker2010_v1_gratings.*skimage_photos"):
        datasets.dataset_info("nope")
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        datasets.dataset_path("nope")
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.fetch("nope")


def test_dataset_path_search_order(tmp_path, monkeypatch):
    folder = tmp_path / "olshausen1996_whitened_images"
    folder.mkdir()
    (folder / "olshausen_sparsenet_whitened_10x512x512_f32.npy").write_bytes(b"fake")
    monkeypatch.setenv("NEUROFOND_DATA_DIR", str(tmp_path))
    assert datasets.data_roots()[0] == tmp_path
    assert datasets.dataset_path("olshausen1996_whitened_images") == folder
    assert datasets.verify("olshausen1996_whitened_images") == {
        "olshausen_sparsenet_whitened_10x512x512_f32.npy": False
    }
    with pytest.raises(FileNotFoundError, match="optional file"):
        datasets.dataset_file("olshausen1996_whitened_images", "sparsenet-tcl_README.txt")
    with pytest.raises(ValueError, match="has no file"):
        datasets.dataset_file("olshausen1996_whitened_images", "other.npy")


def test_dataset_path_missing_names_places(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROFOND_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(datasets, "_default_cache", lambda: tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match=r"searched: .*ecker2010_v1_gratings.*fetch"):
        datasets.dataset_path("ecker2010_v1_gratings")


def test_fetch_refusals(tmp_path):
    with pytest.raises(ValueError, match="no public download source"):
        datasets.fetch("olshausen1996_whitened_images", tmp_path)
    with pytest.raises(ValueError, match="bundled with the 'skimage' package"):
        datasets.fetch("skimage_photos", tmp_path)
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- fetch via file://


def _fake_registry(tmp_path, monkeypatch, files):
    reg = {
        "datasets": {
            "toy": {
                "title": "toy",
                "subdir": "toy",
                "license": "CC0",
                "citation": ["nobody"],
                "loader": "none",
                "card": "toy.md",
                "files": files,
            }
        }
    }
    path = tmp_path / "registry" / "registry.json"
    path.parent.mkdir()
    path.write_text(json.dumps(reg))
    monkeypatch.setattr(datasets, "REGISTRY_FILE", path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_verifies_and_replaces(tmp_path, monkeypatch):
    payload = b"spike counts" * 100
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    _fake_registry(
        tmp_path,
        monkeypatch,
        [
            {"name": "a.bin", "sha256": _sha(payload), "urls": [{"url": src.as_uri()}]},
        ],
    )
    dest = tmp_path / "dest"
    folder = datasets.fetch("toy", dest)
    assert folder == dest / "toy"
    assert (folder / "a.bin").read_bytes() == payload
    assert sorted(p.name for p in folder.iterdir()) == ["a.bin"]  # no temporary files left
    assert datasets.verify("toy", folder) == {"a.bin": True}


def test_fetch_checksum_mismatch_deletes_and_raises(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"tampered")
    _fake_registry(
        tmp_path,
        monkeypatch,
        [
            {"name": "a.bin", "sha256": _sha(b"original"), "urls": [{"url": src.as_uri()}]},
        ],
    )
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="checksum mismatch for a.bin"):
        datasets.fetch("toy", dest)
    assert list((dest / "toy").iterdir()) == []


def test_fetch_falls_back_and_extracts_zip_member(tmp_path, monkeypatch):
    payload = b"\x00\x01binary" * 50
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("release/a.mat", payload)
    _fake_registry(
        tmp_path,
        monkeypatch,
        [
            {
                "name": "a.mat",
                "sha256": _sha(payload),
                "urls": [
                    {"url": (tmp_path / "missing.zip").as_uri(), "archive_member": "a.mat"},
                    {"url": archive.as_uri(), "archive_member": "a.mat"},
                ],
            },
        ],
    )
    folder = datasets.fetch("toy", tmp_path / "dest")
    assert (folder / "a.mat").read_bytes() == payload
    assert sorted(p.name for p in folder.iterdir()) == ["a.mat"]


# ----------------------------------------------------------------------------- CLI


def _parser():
    parser = argparse.ArgumentParser(prog="neurofond")
    datasets.register_cli(parser.add_subparsers(dest="command"))
    return parser


def test_cli(capsys, tmp_path):
    parser = _parser()
    args = parser.parse_args(["datasets", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPECTED)
    args = parser.parse_args(["datasets", "info", "ecker2010_v1_gratings"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "CC BY-NC-ND 3.0" in out and "041e1419a43f" in out
    args = parser.parse_args(
        ["datasets", "fetch", "olshausen1996_whitened_images", "--dest", str(tmp_path)]
    )
    assert args.dest == str(tmp_path)
    assert args.func(args) == 1
    captured = capsys.readouterr()  # errors on stderr, nothing on stdout
    assert "no public download source" in captured.err and captured.out == ""
    args = parser.parse_args(["datasets", "info", "nope"])
    assert args.func(args) == 1
    captured = capsys.readouterr()
    assert "known datasets" in captured.err and captured.out == ""
    with pytest.raises(SystemExit):
        parser.parse_args(["datasets"])


# ----------------------------------------------------------------------------- real files


@pytest.mark.data
@pytest.mark.parametrize("name", ["ecker2010_v1_gratings", "olshausen1996_whitened_images"])
def test_verify_shared_data(name, shared_data_dir, monkeypatch):
    folder = shared_data_dir / datasets.dataset_info(name)["subdir"]
    if not folder.is_dir():
        pytest.skip(f"{name} not found at {folder}")
    monkeypatch.setenv("NEUROFOND_DATA_DIR", str(shared_data_dir))
    assert datasets.dataset_path(name) == folder
    result = datasets.verify(name)
    assert result and all(result.values()), result


@pytest.mark.parametrize("name", ["skimage_photos", "sklearn_sample_images"])
def test_verify_bundled_photos(name):
    info = datasets.dataset_info(name)
    try:
        version = importlib.metadata.version(
            {"skimage": "scikit-image", "sklearn": "scikit-learn"}[info["package"]]
        )
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{info['package']} not installed")
    if version != info["package_version"]:
        pytest.skip(f"checksums recorded for {info['package_version']}, installed {version}")
    result = datasets.verify(name)
    assert result and all(result.values()), result
