"""In-silico experiments: stimuli shown to an :class:`~neurofond.population.InSilicoPopulation`
and measured with the torch-free analyses of :mod:`neurofond.analysis`.

One module per experiment; each public function takes a population (and a seed), presents
its stimuli and returns labelled xarray results with units and provenance in ``attrs``. The
main job (:mod:`neurofond.report`) calls them, one call per report section. Import from the
submodules (nothing is re-exported here, so importing the package loads no torch).
"""
