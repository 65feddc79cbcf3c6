"""Sweeps on dask.distributed: population sweeps into zarr stores and training sweeps.

See docs/scale.md.
"""
