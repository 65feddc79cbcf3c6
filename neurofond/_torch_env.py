"""Torch-side process settings, applied where the model stack is first imported.

Imported (for its effect) at the top of the packages that load torch (``neurofond.fond``,
``neurofond.population``), never by the torch-free layers, so ``import neurofond`` or
``import neurofond.analysis`` leaves the environment untouched.

torch's OpenMP threads spin-wait by default, which slows every step many times over when the
cores are shared (2-core machines, parallel jobs); ``OMP_WAIT_POLICY`` is read once, when the
OpenMP runtime loads with torch, so it is set here before ``import torch``. An explicit user
setting is respected.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
