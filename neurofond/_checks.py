"""Argument checks and seeds: the one place every layer validates its inputs.

Modelled on scikit-learn's ``utils.validation`` (``check_scalar``, ``check_random_state``):
each check returns the converted value or raises a :class:`ValueError` (or :class:`TypeError`)
whose message names the argument and the accepted range. Nothing here imports torch at module
import; :func:`check_torch_generator` imports it when called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "SEED_MAX",
    "check_finite_array",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "check_random_state",
    "check_seed",
    "check_torch_generator",
]

SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed accepts at most a signed 64-bit value


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def check_int(value: Any, name: str, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]`` (bounds optional).

    Raises
    ------
    ValueError
        If ``value`` is not an integer (bools and floats are refused) or is out of range.
    """
    ok = _is_int(value)
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        if minimum is not None and maximum is not None:
            want = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            want = f"an integer >= {minimum}"
        elif maximum is not None:
            want = f"an integer <= {maximum}"
        else:
            want = "an integer"
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    return int(value)


def check_positive(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` > 0.

    Raises
    ------
    ValueError
        If ``value`` is not a real number, is NaN/infinite, or is <= 0.
    """
    if not _is_number(value) or not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def check_nonnegative(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` >= 0.

    Raises
    ------
    ValueError
        If ``value`` is not a real number, is NaN/infinite, or is negative.
    """
    if not _is_number(value) or not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def check_finite_array(values: Any, name: str, *, ndim: int | None = None) -> np.ndarray:
    """``values`` as a float64 array with only finite entries (and ``ndim`` dims if given).

    Raises
    ------
    ValueError
        If the values are not numeric, have the wrong number of dims, or hold NaN/inf.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers, got {type(values).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` as a non-negative ``int`` below 2**63, or ``None``.

    Raises
    ------
    ValueError
        If ``seed`` is not ``None`` or an integer in ``[0, 2**63 - 1]``.
    """
    if seed is None:
        return None
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise ValueError(
            f"{name}: expected None or an integer in [0, 2**63 - 1], got {seed!r}"
        )
    return int(seed)


def check_random_state(seed: Any, name: str = "seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``None``, an integer seed or a Generator.

    ``None`` gives fresh OS entropy (not reproducible); an integer gives
    ``numpy.random.default_rng(seed)``; a Generator is returned as is (shared state).

    Raises
    ------
    ValueError
        If ``seed`` is none of the above.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed, name))


def check_torch_generator(seed: Any, device: Any = "cpu", name: str = "seed") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` from ``None``, an integer seed or a Generator.

    ``None`` seeds a new generator from OS entropy (not reproducible); an integer calls
    ``manual_seed(seed)``; a generator is returned as is after checking its device type.

    Raises
    ------
    ValueError
        If ``seed`` is none of the above, or a generator lives on another device type.
    """
    import torch

    dev = torch.device(device)
    if isinstance(seed, torch.Generator):
        if seed.device.type != dev.type:
            raise ValueError(
                f"{name}: a torch.Generator on {seed.device.type!r} cannot drive work on "
                f"{dev.type!r}; pass an integer seed or a generator on {dev.type!r}"
            )
        return seed
    gen = torch.Generator(device=dev)
    value = check_seed(seed, name)
    if value is None:
        gen.seed()
    else:
        gen.manual_seed(value)
    return gen
