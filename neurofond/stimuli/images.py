"""Image luminance: the one RGB -> gray rule of neurofond (numpy only).

Every colour image that becomes a stimulus or a training patch goes through
:func:`rgb_to_luminance`: a weighted sum of the red, green and blue channels with the
luminance coefficients of ITU-R Recommendation BT.709 ("Parameter values for the HDTV
standards for production and international programme exchange", item 3.2: ``Y = 0.2126 R +
0.7152 G + 0.0722 B``), as rounded by scikit-image's ``rgb2gray``: :data:`LUMINANCE_WEIGHTS`
``= (0.2125, 0.7154, 0.0721)`` (sum 1, each within 2e-4 of BT.709).

The rounded values are kept on purpose: the shipped models were trained on photos converted
with them, so their preprocessing and pretrained regression values depend on these exact
numbers. The weights apply to the channel values as given (no gamma expansion): applied to
gamma-encoded sRGB values they give luma rather than linear-light luminance, the usual
convention for natural-image statistics and the one the models were trained with.

Not BT.601 (``0.299, 0.587, 0.114``, standard-definition television), which weighs red and
blue differently; neurofond used it for movies until the two rules were merged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BT709_WEIGHTS", "LUMINANCE_WEIGHTS", "rgb_to_luminance"]

#: ITU-R BT.709 luminance coefficients of R, G, B (the standard's values).
BT709_WEIGHTS: tuple[float, float, float] = (0.2126, 0.7152, 0.0722)

#: The coefficients neurofond uses: BT.709 as rounded by ``skimage.color.rgb2gray``.
LUMINANCE_WEIGHTS: tuple[float, float, float] = (0.2125, 0.7154, 0.0721)

_WEIGHTS = np.array(LUMINANCE_WEIGHTS)


def rgb_to_luminance(image: Any, name: str = "image") -> np.ndarray:
    """Luminance of colour pixels ``(..., 3)`` or ``(..., 4)`` (alpha dropped), as float64.

    ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` (:data:`LUMINANCE_WEIGHTS`, BT.709) over the last
    axis, in the units of the input (``uint8`` stays in ``[0, 255]``; rescale separately).
    A weighted mean: gray pixels ``R = G = B = v`` give ``v``.

    Parameters
    ----------
    image : array_like, shape (..., 3 or 4)
        RGB or RGBA values, real.
    name : str
        Argument name used in error messages.

    Returns
    -------
    ndarray, float64, shape ``image.shape[:-1]``

    Raises
    ------
    ValueError
        If the last axis does not hold 3 or 4 channels, or the values are not real numbers.
    """
    arr = np.asarray(image)
    if arr.ndim < 1 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"{name}: expected colour pixels (..., 3) or (..., 4), got shape "
                         f"{arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name}: expected real numeric values, got dtype {arr.dtype}")
    return arr[..., :3].astype(np.float64) @ _WEIGHTS
