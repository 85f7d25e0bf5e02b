"""Evaluation of a candidate model against baselines: held-out questions of every leaf and a
general probe set, reference and judge scores, paired bootstrap intervals, a regression gate."""

from taxon.evaluate.stage import EvalReport, evaluate

__all__ = ["EvalReport", "evaluate"]
