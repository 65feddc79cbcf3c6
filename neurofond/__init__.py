"""neurofond: spiking variational-inference models as in-silico V1 neurons.

The flat API re-exports the most used entry points; subpackages hold the rest:
``neurofond.fond`` (model family), ``neurofond.stimuli``, ``neurofond.population``,
``neurofond.recordings``, ``neurofond.analysis``, ``neurofond.brainscore``.
"""

from .fond.checkpoint import load_checkpoint
from .pretrained import list_pretrained, load_model, load_pretrained
from .responses import make_responses, validate_responses

__version__ = "0.1.0"

__all__ = ["__version__", "list_pretrained", "load_checkpoint", "load_model", "load_pretrained",
           "make_responses", "validate_responses"]
