"""Reviewing generated samples: one self-contained HTML page and the pull-request comment."""
