"""Readers for recorded spike data -> ``Responses``.

- :func:`load_ecker2010` / :func:`summarize_ecker2010`: Ecker et al. 2010 /
  Berens et al. 2012 binned macaque V1 grating releases (static and drifting).
- :func:`load_nwb`: NWB files (units table + trials/epochs intervals) via pynwb.
- :func:`block_to_responses` / :func:`load_neo`: neo Blocks whose segments are
  trials, and any file neo can read.

The recordings layer knows nothing of the model: every reader returns the
shared :mod:`neurofond.responses` data model (spike counts with dims
``trial, stimulus, neuron, time``; NaN = missing trial).
"""

from neurofond.recordings.ecker2010 import load_ecker2010, summarize_ecker2010
from neurofond.recordings.neo_blocks import block_to_responses, load_neo
from neurofond.recordings.nwb import load_nwb

__all__ = [
    "block_to_responses",
    "load_ecker2010",
    "load_neo",
    "load_nwb",
    "summarize_ecker2010",
]
