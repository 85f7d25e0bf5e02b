"""Training: fine-tune a base model on the generated samples (taxon.train.stage.train)."""

from taxon.train.loop import EXIT_PREEMPTED, Preempted
from taxon.train.stage import RUNTIME_KEYS, TrainResult, computing_settings, train

__all__ = ["EXIT_PREEMPTED", "RUNTIME_KEYS", "Preempted", "TrainResult", "computing_settings", "train"]
