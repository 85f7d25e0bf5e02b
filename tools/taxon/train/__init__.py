"""Training: fine-tune a base model on the generated samples (taxon.train.stage.train)."""

from taxon.train.stage import EXIT_PREEMPTED, RUNTIME_KEYS, Preempted, TrainResult, train

__all__ = ["EXIT_PREEMPTED", "RUNTIME_KEYS", "Preempted", "TrainResult", "train"]
