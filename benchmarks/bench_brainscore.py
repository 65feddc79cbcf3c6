"""Brain-Score look_at throughput: 1000 images of 224 px at 4 deg through IterativeVAEBrainModel.

Full run: 1000 pink-noise images (1/f amplitude spectrum, a stand-in for natural images),
224 x 224 px 8-bit grayscale PNG files, shown to an ``IterativeVAEBrainModel`` whose field of
view is 4 deg (images span 4 deg: 56 px/deg, resampled to the model's 16 px/deg = 64 px),
4 hypercolumns tiling the central 2 x 2 deg (4 x K neuroids), one trial per image, one
70-170 ms bin (20 blank + 17 stimulus steps of 10 ms). ``--quick``: 50 images. The model is the
shipped default checkpoint when one exists (``neurofond.pretrained.list_pretrained()``),
otherwise an untrained iP-VAE with K = 512 random Gabors (the stable dynamics of
``bench_population.py``: eta = 0.03, sigma_x = 1.5).

Timed: ``look_at`` only (reading the PNG files with PIL, grayscale conversion, resampling,
presentation transform, inference, binning and building the NeuroidAssembly); the PNG
files are written beforehand (cached under the Brain-Score cache folder). Reported: wall
time, images/s, peak RSS.

    python benchmarks/bench_brainscore.py [--quick] [--threads N] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neurofond._files import atomic_write_json  # noqa: E402


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _model(k: int, tmp: Path, **kwargs):
    from neurofond.brainscore import IterativeVAEBrainModel
    from neurofond.brainscore._testing import random_gabor_checkpoint
    from neurofond.pretrained import DEFAULT_MODEL, list_pretrained

    names = [row["name"] for row in list_pretrained()]
    if names:
        name = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
        return IterativeVAEBrainModel.from_pretrained(name, **kwargs), f"pretrained:{name}"
    path = random_gabor_checkpoint(tmp / f"random-gabor-k{k}.safetensors", k=k)
    return IterativeVAEBrainModel.from_checkpoint(path, **kwargs), f"random-gabor-k{k}"


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 images instead of 1000")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--out", default="benchmarks/results")
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    from neurofond.brainscore import cache_home, require_brainscore
    from neurofond.brainscore.stimuli import write_png
    from neurofond.stimuli import pink_noise_image

    require_brainscore()
    from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet

    n_images, size_px, degrees = (50 if args.quick else 1000), 224, 4.0
    folder = cache_home() / "bench" / f"pink_{size_px}px"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths = {}
    for i in range(n_images):  # one image at a time: the files, not the arrays, are the input
        path = folder / f"{i:05d}.png"
        if not path.is_file():
            write_png(pink_noise_image(size_px, seed=i), path)
        paths[f"pink{i:05d}"] = path
    stimulus_set = StimulusSet({"stimulus_id": list(paths), "image": np.arange(n_images)})
    stimulus_set.stimulus_paths = paths
    stimulus_set.identifier = f"bench_pink{n_images}_{size_px}px"
    write_s = time.perf_counter() - t0

    model, kind = _model(512, folder, visual_degrees=degrees, batch_size=args.batch_size,
                         trials="average")
    model.population.transform.gain  # noqa: B018 - calibrate the gain outside the timed region
    model.start_recording("V1", time_bins=[(70, 170)])
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    assembly = model.look_at(stimulus_set, number_of_trials=1)
    look_s = time.perf_counter() - t0
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = model.blank_steps + 17
    result = {
        "mode": "quick" if args.quick else "full",
        "machine": {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                    "load_avg_1min": os.getloadavg()[0], "cpu_count": os.cpu_count()},
        "model": kind,
        "n_images": n_images,
        "image_px": size_px,
        "visual_degrees": degrees,
        "n_tiles": model.n_tiles,
        "n_neuroids": int(assembly.sizes["neuroid"]),
        "number_of_trials": 1,
        "time_bins": [[70, 170]],
        "steps_per_presentation": steps,
        "batch_size": args.batch_size,
        "write_png_s": write_s,
        "look_at_s": look_s,
        "images_per_s": n_images / look_s,
        "ms_per_image": 1000 * look_s / n_images,
        "assembly_shape": list(assembly.shape),
        "mean_rate_spikes_per_s": float(np.mean(assembly.values)),
        "rss_before_look_at_mb": rss_before,
        "peak_rss_mb": peak_rss,
    }
    name = "bench_brainscore_quick.json" if args.quick else "bench_brainscore.json"
    path = Path(args.out) / name
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
