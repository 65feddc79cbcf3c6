"""Shared plumbing of the thin scripts in ``analyses/``, ``scripts/`` and ``benchmarks/``.

Scripts must not import each other and must not edit ``sys.path``; what several of them
need lives here: the common command line (``--out``, ``--seed``, ``--full``, ``--threads``,
``--device``, ``--no-progress``), fast/full defaults, atomic CSV / JSON results through
:mod:`neurofond._files`, the provenance recorded in every results file and a
distribution summary (median and IQR) used by the result tables.

Nothing here imports torch at module import.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_json, atomic_write_text, save_figure, to_jsonable

__all__ = [
    "COLORS",
    "distribution",
    "main_wrapper",
    "out_dir",
    "parser",
    "pick",
    "provenance",
    "pyplot",
    "save_figure",
    "setup_torch",
    "write_csv",
    "write_json",
]

#: Plot colour of each family key (``neurofond.pretrained.FAMILY_KEYS``).
COLORS = {"ipvae": "C3", "igvae": "C0", "igrelu": "C2"}


# --------------------------------------------------------------------------- command line


def parser(doc: str | None, *, default_out: str) -> argparse.ArgumentParser:
    """The options every experiment script shares (the script adds its own).

    The description is the first line of ``doc`` (the script's docstring).
    """
    first = (doc or "").strip().splitlines()[0] if doc else None
    ap = argparse.ArgumentParser(description=first, epilog="See the module docstring and "
                                 "docs/insilico.md for the protocol.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default=default_out, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0, help="seed of stimuli and spike sampling")
    ap.add_argument("--full", action="store_true",
                    help="paper-scale settings (slow); default: fast settings")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return ap


def setup_torch(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when ``threads`` is given (imports torch then)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def pick(value: Any, quick: bool, fast: Any, full: Any) -> Any:
    """``value`` when given, else the fast or the full default."""
    if value is not None:
        return value
    return fast if quick else full


def main_wrapper(run_from_args: Callable[[], Iterable[Any] | None]) -> int:
    """Run ``run_from_args()``, print the time taken and the paths it returns; exit code 0.

    A bad argument (``ValueError``, including a checkpoint that cannot be loaded,
    ``FileNotFoundError``, ``FileExistsError``) prints ``<script>: error: <message>`` on
    stderr (the message names the argument, e.g. ``checkpoint: ...``) and returns 2, without
    a traceback; output folders this run created with :func:`out_dir` are removed again when
    still empty.
    """
    t0 = time.perf_counter()
    _CREATED.clear()
    try:
        result_paths = run_from_args()
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        for folder in reversed(_CREATED):
            try:
                folder.rmdir()  # only when empty: never removes results
            except OSError:
                pass
        print(f"{Path(sys.argv[0]).name or 'neurofond'}: error: {err}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for p in result_paths or ():
        print(p)
    return 0


# --------------------------------------------------------------------------- writers


#: folders created by :func:`out_dir` during the current :func:`main_wrapper` call
_CREATED: list[Path] = []


def out_dir(out: str | os.PathLike) -> Path:
    """``out`` as a Path, created with its parents (recorded so that a failed script
    removes the folders it created when they are still empty)."""
    path = Path(out)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    _CREATED.extend(reversed(missing))
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomic JSON (sorted keys, NaN as null): :func:`neurofond._files.atomic_write_json`."""
    return atomic_write_json(path, data)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Atomic CSV of dict rows (NaN / None as empty cells, floats with 6 significant digits).

    ``columns`` default to the keys of the rows in first-seen order.
    """
    rows = list(rows)
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_cell(r.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def _csv_cell(v: Any) -> Any:
    v = to_jsonable(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def provenance(ck: Any = None, **settings: Any) -> dict[str, Any]:
    """Settings plus where the model came from (recorded in every results file).

    ``ck`` is a :class:`neurofond.pretrained.CheckpointInfo` or ``None``.
    """
    import neurofond

    info: dict[str, Any] = {"neurofond_version": getattr(neurofond, "__version__", "unknown"),
                            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if ck is not None:
        info.update(checkpoint=str(ck.path), model_name=ck.name, family=ck.family)
    info.update(settings)
    return info


# --------------------------------------------------------------------------- statistics


def distribution(values: Any) -> dict[str, Any]:
    """n, median, IQR (q25, q75, iqr) and mean of the finite values (None when there are none)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "median": None, "q25": None, "q75": None, "iqr": None, "mean": None}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"n": int(v.size), "median": float(med), "q25": float(q25), "q75": float(q75),
            "iqr": float(q75 - q25), "mean": float(v.mean())}
