"""Atomic file writes and JSON-safe conversion: the one home for both.

Every result file neurofond writes goes through a temporary file in the target folder and an
:func:`os.replace`, so a reader (or a killed run) never sees a half-written file. JSON is
written through :func:`to_jsonable`, which maps numpy scalars/arrays to Python values,
non-finite floats to ``null`` and paths to strings.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_folder",
    "save_figure",
    "save_safetensors_atomic",
    "swap_directory",
    "to_jsonable",
]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """Permission bits a newly created file would get (mkstemp makes files 0600)."""
    return 0o666 & ~_umask()


def atomic_path(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    The temporary file is removed if ``write`` raises (or the process is interrupted
    inside Python); ``path`` is either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically."""
    return atomic_path(path, lambda tmp: Path(tmp).write_bytes(payload))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """A JSON-safe copy of ``obj``.

    numpy scalars -> Python scalars, arrays -> lists, NaN/inf -> ``None``, paths -> ``str``,
    mappings -> dicts with string keys, tuples/sets -> lists. Other objects raise
    :class:`TypeError` (nothing is silently stringified).
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # torch tensors, numpy-like scalars
        return to_jsonable(obj.tolist())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int = 2) -> Path:
    """Write ``to_jsonable(data)`` as JSON (sorted keys, NaN as null) to ``path`` atomically."""
    text = json.dumps(to_jsonable(data), indent=indent, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def save_safetensors_atomic(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                            metadata: dict[str, str]) -> Path:
    """Write a safetensors file through a temporary file and an atomic rename."""
    from safetensors.torch import save_file

    return atomic_path(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120, close: bool = True) -> Path:
    """Save a matplotlib figure to ``path`` atomically (format from the suffix)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    out = atomic_path(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight",
                                                    format=fmt))
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return out


def swap_directory(tmp: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Put the finished folder ``tmp`` at ``out`` by renames.

    Absent or empty ``out``: one rename. Otherwise ``out`` is renamed aside, ``tmp`` renamed
    in (``out`` restored if that fails) and the old folder removed. A kill between the two
    renames leaves the old folder complete beside ``out`` as ``.<name>.replaced-*``; never a
    mix of old and new files.
    """
    tmp, out = Path(tmp), Path(out)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.rename(tmp, out)
        return out
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.replaced-"))
    old.rmdir()
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out


@contextmanager
def atomic_directory(out: str | os.PathLike, *,
                     before_swap: Callable[[], None] | None = None) -> Iterator[Path]:
    """A temporary folder beside ``out`` that replaces ``out`` when the block succeeds.

    Write every file into the yielded folder; on a clean exit it gets the usual folder
    mode, ``before_swap()`` runs (e.g. to re-check that ``out`` may still be replaced) and
    :func:`swap_directory` moves it into place. On any error (or interrupt) the temporary
    folder is removed and ``out`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "results") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> sorted(p.name for p in (root / "results").iterdir())
    ['a.txt']
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        if before_swap is not None:
            before_swap()
        swap_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output_folder(out: Path, *, overwrite: bool, own_files: re.Pattern[str],
                        argument: str, product: str, not_empty_hint: str,
                        foreign_hint: str = "") -> None:
    """Refuse an output folder that would lose files, before anything is computed.

    ``out`` may be absent or empty. A non-empty ``out`` needs ``overwrite``, and even then it
    may hold only plain files whose names ``own_files`` matches in full (files an earlier
    ``product`` wrote). Errors name ``argument``.
    """
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{argument}: {out} exists and is not a folder")
    if not out.is_dir():
        return
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    if not overwrite:
        raise FileExistsError(f"{argument}: {out} is not empty ({len(present)} entries, e.g. "
                              f"{present[0]!r}); {not_empty_hint}")
    foreign = [name for name in present
               if not (own_files.fullmatch(name) and (out / name).is_file())]
    if foreign:
        raise FileExistsError(
            f"{argument}: {out} holds files {product} does not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); not replaced even with --overwrite"
            f"{foreign_hint}")
