"""FOND model family (iP-VAE, iG-VAE, iGrelu-VAE): inference, learning, metrics, checkpoints.

Depends on torch only (plus numpy/scipy for data preparation).
"""

from .. import _torch_env  # noqa: F401  (process settings before torch loads)

# isort: split

from .checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from .config import FAMILIES, MODEL_NAMES, ModelConfig, TrainConfig
from .data import PatchData, Preprocessing, bundled_images, make_patch_data
from .evaluate import EvaluationResult, evaluate, run_inference
from .metrics import convergence_index, distance_to_ideal, r2_per_sample
from .model import InferenceState, IterativeVAE
from .sampling import candidate_count, poisson_spikes, relaxed_poisson
from .training import TrainingRun, train

__all__ = [
    "FAMILIES", "MODEL_NAMES", "CheckpointError", "EvaluationResult", "InferenceState",
    "IterativeVAE", "ModelConfig", "PatchData", "Preprocessing", "TrainConfig", "TrainingRun",
    "bundled_images", "candidate_count", "convergence_index", "distance_to_ideal", "evaluate",
    "load_checkpoint", "make_patch_data", "poisson_spikes", "r2_per_sample", "read_metadata",
    "relaxed_poisson", "run_inference", "save_checkpoint", "train",
]
