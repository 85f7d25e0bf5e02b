"""taxon: a GitOps taxonomy repository with CI-driven training."""

__version__ = "0.1.0"
