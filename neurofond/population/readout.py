"""Per-family outputs of a presentation: what is recorded per step, in which units and sign.

One place decides, for each model family, the recorded values, their dtype and the
``Responses`` attrs that state their units and sign convention (from
:data:`neurofond.fond.model.RESPONSE_CONVENTIONS`, the model's own statement):

=================  ==========================================  ===================================
family             ``spikes`` (sampled, per step)              ``rates`` (``model.mean_response``)
=================  ==========================================  ===================================
iP-VAE             spike counts (uint8, widened to uint16 /    expected spikes per step
                   float32 if a count exceeds the dtype)       ``exp(u)``, >= 0
iG-VAE             signed activation ``z`` (float32, a.u.)     ``mu``, signed, a.u.
iGrelu-VAE         ``exp(log_gain) relu(z)`` (float32, a.u.,   ``exp(log_gain) E[relu(z)]``,
                   >= 0)                                       >= 0, a.u.
=================  ==========================================  ===================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..fond.model import IterativeVAE
from ..responses import COUNT_UNITS, make_responses

__all__ = ["build_responses", "family_attrs", "rates_dataset", "record_dtype", "widen_dtype"]


def record_dtype(model: IterativeVAE) -> np.dtype:
    """Initial dtype of the recorded responses: uint8 counts for iP-VAE, float32 otherwise."""
    return np.dtype(np.uint8 if model.is_poisson else np.float32)


def widen_dtype(dtype: np.dtype, top: float) -> np.dtype:
    """``dtype``, or the next one (uint8 -> uint16 -> float32) that holds counts up to ``top``."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.integer) or top <= np.iinfo(dtype).max:
        return dtype
    return np.dtype(np.uint16 if top <= np.iinfo(np.uint16).max else np.float32)


def family_attrs(model: IterativeVAE) -> dict[str, Any]:
    """``units``, ``sign_convention`` and ``response_kind`` attrs of the sampled responses."""
    conv = model.response_convention
    return {
        "units": COUNT_UNITS if conv.spikes else conv.response_units,
        "sign_convention": conv.sign,
        "response_kind": "spike counts" if conv.spikes else "activations (not spikes)",
    }


def build_responses(values: np.ndarray, model: IterativeVAE, **kwargs: Any) -> xr.DataArray:
    """A ``Responses`` array of recorded values with the family's units and sign in attrs.

    ``kwargs`` go to :func:`neurofond.responses.make_responses`, which validates spike
    counts, non-negative activations (iGrelu-VAE) and signed activations (iG-VAE,
    ``signed=True``) alike; ``attrs["sign_convention"]`` says what a negative value means.
    """
    fam = family_attrs(model)
    attrs = {**kwargs.pop("attrs", {}), **fam}
    units = attrs.pop("units")
    return make_responses(values, attrs=attrs, units=units,
                          signed=model.response_convention.signed, **kwargs)


def rates_dataset(responses: xr.DataArray, rates: np.ndarray,
                  model: IterativeVAE) -> xr.Dataset:
    """``spikes`` (the responses) and ``rates`` (:meth:`IterativeVAE.mean_response` per
    step, same coords) as one :class:`xarray.Dataset`."""
    conv = model.response_convention
    rate_da = responses.copy(data=rates)
    rate_da.name = "rates"
    rate_da.attrs["units"] = conv.mean_units
    rate_da.attrs["sign_convention"] = conv.sign
    return xr.Dataset({"spikes": responses, "rates": rate_da}, attrs=dict(responses.attrs))
