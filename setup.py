"""Build configuration beyond pyproject.toml: the optional C spike sampler.

``neurofond.fond._spikes`` is a small C extension (exact Poisson counts, see
``neurofond/fond/_spikes.c``). It is optional: if it cannot be compiled, neurofond
installs anyway and samples with ``torch.poisson`` (``neurofond.fond.sampling``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("neurofond.fond._spikes", ["neurofond/fond/_spikes.c"],
                  extra_compile_args=["-O3", "-Wno-psabi"], optional=True),
    ],
)
