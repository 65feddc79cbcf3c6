"""V1 survey: every issue-14 measure for the shipped models, the baselines and recorded units.

One table of the classic V1 measures, side by side, computed with the same analysis code
(:mod:`neurofond.analysis`) for the shipped iP-VAE, iG-VAE and iGrelu-VAE, the baselines of
:mod:`neurofond.models` (Gabor energy, pixel PCA, stimulus floor; LCA when its dictionary
is saved) and the recorded Ecker et al. 2010 static V1 units: orientation selectivity and
bandwidth, Fano factors, noise (r_sc) and signal correlations, trial reliability, lifetime
sparseness, contrast response (Naka-Rushton, where >= 4 contrasts exist), onset latency;
and, for the models, size tuning, cross-orientation suppression and direction selectivity
on a drifting sweep. The protocol and its choices are in
:mod:`neurofond.insilico.survey` (this script only parses options and calls
:func:`~neurofond.insilico.survey.run_survey`).

Outputs in ``--out`` (refused when not empty, unless ``--overwrite``): ``survey.json``
(written atomically; per source and measure: n, mean, SEM, median, quartiles, or the
reason a measure does not apply) and ``survey_distributions.png``.

    python analyses/v1_survey.py --out results/v1_survey            # quick (minutes)
    python analyses/v1_survey.py --full --out results/v1_survey_full
    python analyses/v1_survey.py --models ipvae-k512-b24-photos --no-recordings
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurofond import _scripts as common


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    from neurofond.insilico.survey import BASELINE_NAMES

    ap = common.parser(__doc__, default_out="results/v1_survey")
    ap.add_argument("--models", nargs="*", default=None, metavar="NAME_OR_PATH",
                    help="shipped model names or checkpoints (default: every shipped model)")
    ap.add_argument("--baselines", nargs="*", default=list(BASELINE_NAMES),
                    help="baselines of neurofond.models ('lca' when its dictionary is saved)")
    ap.add_argument("--recordings", default="auto",
                    help="Ecker 2010 static .mat (default: found by the dataset registry)")
    ap.add_argument("--no-recordings", action="store_true", help="models and baselines only")
    ap.add_argument("--tiny", action="store_true", help="test-sized run (seconds)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an earlier survey in --out")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        from neurofond.insilico.survey import run_survey

        mode = "tiny" if args.tiny else "full" if args.full else "quick"
        run_survey(args.out, models=args.models, baselines=args.baselines,
                   recordings=None if args.no_recordings else args.recordings, mode=mode,
                   seed=args.seed, device=args.device, overwrite=args.overwrite,
                   progress=not args.no_progress)
        return [Path(args.out) / "survey.json", Path(args.out) / "survey_distributions.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
