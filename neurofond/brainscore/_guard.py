"""Imported first by modules that need brainscore_vision: a clear ImportError when it is absent."""

from . import require_brainscore

require_brainscore()
