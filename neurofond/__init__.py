"""neurofond: spiking variational-inference models as in-silico V1 neurons.

The flat API re-exports the most used entry points; subpackages hold the rest:
``neurofond.fond`` (model family), ``neurofond.stimuli``, ``neurofond.population``,
``neurofond.recordings``, ``neurofond.analysis``, ``neurofond.brainscore``.
"""

import os as _os

# torch's OpenMP threads spin-wait by default, which slows every step many times over when the
# cores are shared (2-core machines, parallel jobs). Respect an explicit user setting.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .fond.checkpoint import load_checkpoint  # noqa: E402
from .population import InSilicoPopulation  # noqa: E402
from .pretrained import list_pretrained, load_model, load_pretrained  # noqa: E402
from .responses import make_responses, validate_responses  # noqa: E402

__version__ = "0.1.0"

__all__ = ["InSilicoPopulation", "__version__", "list_pretrained", "load_checkpoint", "load_model",
           "load_pretrained",
           "make_responses", "validate_responses"]
