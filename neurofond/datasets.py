"""Registry of the public datasets neurofond can read, and where to find them.

Each supported dataset has a card (``datasets/<name>.md`` in the repository:
content, licence, citation, where to obtain it, checksums) and an entry in the
machine-readable registry (name -> files, sha256, urls, licence, citation,
loader), shipped as package data ``neurofond/data/registry.json`` and read with
:mod:`importlib.resources`, so an installed wheel lists the datasets too. No
third-party data file is shipped with neurofond: the readers look for the files
on disk, in this order,

1. ``$NEUROFOND_DATA_DIR/<subdir>/``
2. ``<repository root>/../shared/data/<subdir>/``
3. ``~/.cache/neurofond/<subdir>/`` (where :func:`fetch` downloads to)

Datasets bundled with an installed package (scikit-image, scikit-learn
photos) are found inside that package.

Functions
---------
list_datasets, dataset_info, dataset_path, dataset_file, verify, fetch,
register_cli (``neurofond datasets list|info|fetch|verify``).

Examples
--------
>>> from neurofond import datasets
>>> "ecker2010_v1_gratings" in datasets.list_datasets()
True
>>> datasets.dataset_info("ecker2010_v1_gratings")["license"]
'CC BY-NC-ND 3.0 Unported'
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import Any

from neurofond.data import data_file

__all__ = [
    "CARD_DIR",
    "DATA_DIR_ENV",
    "REGISTRY_FILE",
    "data_roots",
    "dataset_file",
    "dataset_info",
    "dataset_path",
    "fetch",
    "list_datasets",
    "register_cli",
    "verify",
]

#: Environment variable naming a data root searched before all others.
DATA_DIR_ENV = "NEUROFOND_DATA_DIR"

_REPO_ROOT = Path(__file__).resolve().parents[1]
_REGISTRY = data_file("registry.json")
#: The registry file (package data ``neurofond/data/registry.json``).
REGISTRY_FILE: Path = _REGISTRY if isinstance(_REGISTRY, Path) else Path(str(_REGISTRY))
#: Folder of the dataset cards (``<repository>/datasets``; absent from a wheel install,
#: where ``dataset_info`` gives no ``card_path``).
CARD_DIR: Path = _REPO_ROOT / "datasets"

_DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- registry


def _registry() -> dict[str, dict[str, Any]]:
    path = Path(REGISTRY_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            content = json.load(fh)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"dataset registry not found at {path}; it is package data of neurofond "
            "(neurofond/data/registry.json): reinstall neurofond"
        ) from err
    except json.JSONDecodeError as err:
        raise ValueError(f"dataset registry {path} is not valid JSON: {err}") from err
    sets = content.get("datasets") if isinstance(content, dict) else None
    if not isinstance(sets, dict):
        raise ValueError(f"dataset registry {path}: expected a top-level 'datasets' mapping")
    return sets


def list_datasets() -> list[str]:
    """Names of the datasets in the registry, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_registry())


def dataset_info(name: str) -> dict[str, Any]:
    """The registry entry of one dataset (a copy).

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.

    Returns
    -------
    dict
        Keys include ``title``, ``files`` (list of dicts with ``name``,
        ``sha256``, ``size``, ``urls``), ``license``, ``citation``,
        ``homepage``, ``loader``, ``card`` and, added here, ``name`` and
        ``card_path`` (the card in :data:`CARD_DIR`; only when that file exists, as
        in a source checkout).

    Raises
    ------
    ValueError
        If ``name`` is not a known dataset (the message lists the known names).
    """
    reg = _registry()
    if name not in reg:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(reg))}")
    info = json.loads(json.dumps(reg[name]))  # deep copy
    info["name"] = name
    if info.get("card") and (CARD_DIR / info["card"]).is_file():
        info["card_path"] = str(CARD_DIR / info["card"])
    return info


def data_roots() -> list[Path]:
    """Directories searched for dataset files, in order of priority.

    ``$NEUROFOND_DATA_DIR`` (if set), ``<repo>/../shared/data``,
    ``~/.cache/neurofond``.
    """
    roots: list[Path] = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(_REPO_ROOT.parent / "shared" / "data")
    roots.append(_default_cache())
    return roots


def _default_cache() -> Path:
    return Path.home() / ".cache" / "neurofond"


def _required(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in info["files"] if not f.get("optional", False)]


def _package_dir(info: dict[str, Any]) -> Path | None:
    spec = importlib.util.find_spec(info["package"])
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / info.get("package_subdir", "")


def _candidate_dirs(info: dict[str, Any]) -> list[Path]:
    if info.get("package"):
        pkg = _package_dir(info)
        return [pkg] if pkg is not None else []
    return [root / info["subdir"] for root in data_roots()]


def dataset_path(name: str) -> Path:
    """The directory holding the files of dataset ``name``.

    Searches ``$NEUROFOND_DATA_DIR``, ``../shared/data`` (relative to the
    repository root) and ``~/.cache/neurofond`` for a ``<subdir>`` that holds
    every required file of the dataset; for package-bundled datasets, the
    package's data folder.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    FileNotFoundError
        If no location holds the files; the message lists the places searched
        and how to obtain the data.
    """
    info = dataset_info(name)
    candidates = _candidate_dirs(info)
    for folder in candidates:
        if all((folder / f["name"]).is_file() for f in _required(info)):
            return folder
    files = ", ".join(f["name"] for f in _required(info))
    searched = "; ".join(str(c) for c in candidates) or f"package {info.get('package')!r}"
    if info.get("package"):
        how = f"install the {info['package']!r} package"
    elif any(f.get("urls") for f in _required(info)):
        how = f"run `neurofond datasets fetch {name}` or set {DATA_DIR_ENV}"
    else:
        how = (
            f"download it by hand (see {info.get('card_path', 'the dataset card')}) and put it "
            f"in one of these folders, or set {DATA_DIR_ENV}"
        )
    raise FileNotFoundError(
        f"dataset {name!r} ({files}) not found; searched: {searched}. To get it: {how}"
    )


def dataset_file(name: str, filename: str | None = None) -> Path:
    """Path of one file of dataset ``name`` (default: its first file).

    Raises
    ------
    ValueError
        If ``name`` is unknown or ``filename`` is not one of its files.
    FileNotFoundError
        As :func:`dataset_path`, or if an optional file is absent.
    """
    info = dataset_info(name)
    names = [f["name"] for f in info["files"]]
    if filename is None:
        filename = names[0]
    elif filename not in names:
        raise ValueError(
            f"dataset {name!r} has no file {filename!r}; its files: {', '.join(names)}"
        )
    path = dataset_path(name) / filename
    if not path.is_file():
        raise FileNotFoundError(f"dataset {name!r}: optional file {filename!r} not found at {path}")
    return path


# ----------------------------------------------------------------------------- checksums


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, bool | None]:
    """Check the sha256 of the files of dataset ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.
    path : path-like, optional
        The dataset folder; default :func:`dataset_path`.

    Returns
    -------
    dict
        file name -> ``True`` (checksum matches), ``False`` (mismatch) or
        ``None`` (no checksum recorded in the registry). Absent optional files
        are left out.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    FileNotFoundError
        If the dataset (or, with ``path``, a required file) is not found.
    """
    info = dataset_info(name)
    folder = Path(path) if path is not None else dataset_path(name)
    result: dict[str, bool | None] = {}
    for entry in info["files"]:
        file = folder / entry["name"]
        if not file.is_file():
            if entry.get("optional", False):
                continue
            raise FileNotFoundError(f"dataset {name!r}: required file missing: {file}")
        expected = entry.get("sha256")
        result[entry["name"]] = None if not expected else sha256sum(file) == expected
    return result


# ----------------------------------------------------------------------------- download


def fetch(name: str, dest: str | os.PathLike[str] | None = None) -> Path:
    """Download dataset ``name`` into ``dest/<subdir>/`` and verify its sha256.

    Each file is downloaded (``urllib``) into a temporary file in the target
    folder, its sha256 compared with the registry, then moved into place with
    :func:`os.replace` (atomic). A file whose checksum does not match is
    deleted; the next listed source is tried and, when none is left,
    ``ValueError`` is raised. Files already present with the right checksum
    are not downloaded again. Sources that are zip archives (``archive_member``
    in the registry) are downloaded to a temporary file and the member is
    extracted and verified.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.
    dest : path-like, optional
        Data root; default ``$NEUROFOND_DATA_DIR`` if set, else
        ``~/.cache/neurofond``.

    Returns
    -------
    pathlib.Path
        The dataset folder ``dest/<subdir>``.

    Raises
    ------
    ValueError
        If ``name`` is unknown, the dataset cannot be downloaded (bundled with
        a package, or no public source: see its card), or every source failed
        (checksum mismatch, network error).
    """
    info = dataset_info(name)
    if info.get("package"):
        raise ValueError(
            f"dataset {name!r} is bundled with the {info['package']!r} package; install that "
            "package instead of fetching"
        )
    root = (
        Path(dest) if dest is not None else Path(os.environ.get(DATA_DIR_ENV) or _default_cache())
    )
    folder = root.expanduser() / info["subdir"]
    missing = [f["name"] for f in _required(info) if not f.get("urls")]
    if missing:
        raise ValueError(
            f"dataset {name!r}: no public download source recorded for {', '.join(missing)}; "
            f"obtain it by hand as described in {info.get('card_path', 'its dataset card')} and "
            f"place it in {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for entry in info["files"]:
        target = folder / entry["name"]
        expected = entry.get("sha256")
        if target.is_file() and expected and sha256sum(target) == expected:
            continue
        if not entry.get("urls"):
            continue  # optional file without a source
        try:
            _fetch_file(entry, target)
        except ValueError:
            if entry.get("optional", False):
                warnings.warn(
                    f"dataset {name!r}: optional file {entry['name']!r} could not be fetched",
                    stacklevel=2,
                )
                continue
            raise
    return folder


def _fetch_file(entry: dict[str, Any], target: Path) -> None:
    expected = entry.get("sha256")
    errors: list[str] = []
    for source in entry["urls"]:
        url = source["url"]
        tmp = _tmp_path(target)
        try:
            if source.get("archive_member"):
                archive = _tmp_path(target, suffix=".zip")
                try:
                    _download(url, archive)
                    _extract_member(archive, source["archive_member"], tmp, url)
                finally:
                    archive.unlink(missing_ok=True)
            else:
                _download(url, tmp)
            digest = sha256sum(tmp)
            if expected and digest != expected:
                raise ValueError(
                    f"checksum mismatch for {entry['name']} from {url}: expected sha256 "
                    f"{expected}, got {digest}; the download was deleted"
                )
            if not expected:
                warnings.warn(
                    f"no sha256 recorded for {entry['name']}; downloaded file has sha256 {digest}",
                    stacklevel=3,
                )
            os.replace(tmp, target)
            return
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            errors.append(f"{url}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    raise ValueError(f"could not fetch {entry['name']}: " + " | ".join(errors))


def _tmp_path(target: Path, suffix: str = ".part") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def _download(url: str, out: Path) -> None:
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp, open(out, "wb") as fh:
        shutil.copyfileobj(resp, fh, _CHUNK)


def _extract_member(archive: Path, member: str, out: Path, url: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        matches = [n for n in names if n == member or n.rsplit("/", 1)[-1] == member]
        if not matches:
            raise ValueError(f"archive {url} has no member {member!r} (members: {names[:10]})")
        with zf.open(matches[0]) as src, open(out, "wb") as fh:
            shutil.copyfileobj(src, fh, _CHUNK)


# ----------------------------------------------------------------------------- CLI


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``datasets list|info NAME|fetch NAME [--dest DIR]|verify NAME``.

    Parameters
    ----------
    subparsers
        The object returned by :meth:`argparse.ArgumentParser.add_subparsers`.

    Returns
    -------
    argparse.ArgumentParser
        The ``datasets`` parser. Every leaf parser sets ``func`` (via
        ``set_defaults``): call ``args.func(args)``; it prints its result and
        returns an exit code (0 ok, 1 failure).
    """
    parser = subparsers.add_parser(
        "datasets", help="list, describe, download and verify public datasets"
    )
    sub = parser.add_subparsers(dest="datasets_command", metavar="{list,info,fetch,verify}")
    sub.required = True
    p_list = sub.add_parser("list", help="list known datasets and whether they are on disk")
    p_list.set_defaults(func=_cli_list)
    p_info = sub.add_parser("info", help="show a dataset's registry entry")
    p_info.add_argument("name")
    p_info.set_defaults(func=_reporting_errors(_cli_info))
    p_fetch = sub.add_parser("fetch", help="download a dataset and verify its sha256")
    p_fetch.add_argument("name")
    p_fetch.add_argument("--dest", default=None, help="data root (default: ~/.cache/neurofond)")
    p_fetch.set_defaults(func=_reporting_errors(_cli_fetch))
    p_verify = sub.add_parser("verify", help="check the sha256 of a dataset's files")
    p_verify.add_argument("name")
    p_verify.set_defaults(func=_reporting_errors(_cli_verify))
    return parser


def _where(name: str) -> str:
    try:
        return str(dataset_path(name))
    except FileNotFoundError:
        return "not found"


def _reporting_errors(func: Any) -> Any:
    """Wrap a subcommand: a ValueError/OSError becomes one line on stderr and exit code 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (ValueError, OSError) as err:
            print(f"neurofond datasets: error: {err}", file=sys.stderr)
            return 1
    return run


def _cli_list(args: argparse.Namespace) -> int:
    for name in list_datasets():
        info = dataset_info(name)
        print(f"{name:32s} {info.get('license', '?'):40s} {_where(name)}")
    return 0


def _cli_info(args: argparse.Namespace) -> int:
    info = dataset_info(args.name)
    print(f"{info['name']}: {info.get('title', '')}")
    print(f"  license:  {info.get('license')}")
    print(f"  homepage: {info.get('homepage')}")
    print(f"  loader:   {info.get('loader')}")
    print(f"  card:     {info.get('card_path') or info.get('card')}")
    print(f"  location: {_where(args.name)}")
    for cit in info.get("citation", []):
        print(f"  cite:     {cit}")
    for f in info["files"]:
        opt = " (optional)" if f.get("optional") else ""
        print(f"  file:     {f['name']}{opt} sha256={f.get('sha256')} size={f.get('size')}")
    return 0


def _cli_fetch(args: argparse.Namespace) -> int:
    folder = fetch(args.name, args.dest)
    print(f"{args.name}: {folder}")
    return 0


def _cli_verify(args: argparse.Namespace) -> int:
    result = verify(args.name)
    for file, ok in result.items():
        status = {True: "ok", False: "MISMATCH", None: "no checksum recorded"}[ok]
        print(f"{file}: {status}")
    return 0 if all(v is not False for v in result.values()) else 1
