"""`GET /metrics`: what the server has done, in Prometheus' text format, one registry per
server: requests by endpoint and status, prompt and generated tokens, how full each decode
step's batch was, and how long requests took (whole, and to the first streamed token)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class ServeMetrics:
    def __init__(self, batch_size: int):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "taxon_serve_requests",
            "Requests answered, by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "taxon_serve_prompt_tokens", "Prompt tokens of answered requests", registry=self.registry
        )
        self.completion_tokens = Counter(
            "taxon_serve_completion_tokens", "Tokens generated for answered requests", registry=self.registry
        )
        self.batch_rows = Histogram(
            "taxon_serve_batch_occupancy",
            f"Rows decoded together in one step (at most {batch_size})",
            buckets=tuple(range(1, batch_size + 1)),
            registry=self.registry,
        )
        self.running_rows = Gauge(
            "taxon_serve_running_rows", "Rows still generating after the last step", registry=self.registry
        )
        self.latency = Histogram(
            "taxon_serve_request_seconds",
            "Time from a request's arrival to its last byte, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token = Histogram(
            "taxon_serve_time_to_first_token_seconds",
            "Time from a streamed request's arrival to its first text",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def step(self, decoded: int, left: int) -> None:
        if decoded:
            self.batch_rows.observe(decoded)
        self.running_rows.set(left)

    def answered(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def tokens(self, prompt: int, completion: int) -> None:
        self.prompt_tokens.inc(prompt)
        self.completion_tokens.inc(completion)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
