"""Teacher throughput, each figure beside its baseline measured in the same run.

1. The openai backend against a local OpenAI-compatible endpoint that answers every request
   after a fixed latency L, with the concurrency limit C: requests/s against the ideal C/L
   (goal: at least 90 %). The endpoint runs in its own process, so it doesn't share our GIL.
2. The transformers backend on the packaged SmolLM2-135M-Instruct: greedy generation in
   batches of 8 and 32 against one sequence at a time, in generated tokens/s (goal: 3x).

    python bench/teachers.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from http.server import ThreadingHTTPServer

from summary import emit
from taxon.serve.server import JSONHandler

QUESTIONS = [
    "Explain in detail how birds migrate across continents.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Describe the water cycle step by step for a ten-year-old.",
    "List ten tips for writing clear technical documentation, with one sentence each.",
    "Explain why the sky is blue, then why sunsets are red.",
    "Describe how a bill becomes a law in a parliamentary democracy.",
    "Write a polite email declining a meeting invitation and proposing another date.",
    "Explain the difference between weather and climate with three examples.",
]


# -- 1. the openai backend against a fixed-latency endpoint -------------------------------


def _serve_fixed_latency(port_pipe, latency_s: float) -> None:
    reply = json.dumps(
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    ).encode()
    models = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()

    class Handler(JSONHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._reply(200, models)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.endswith("/chat/completions"):
                time.sleep(latency_s)
                self._reply(200, reply)
            else:
                self._reply(404, b'{"error": {"message": "not found"}}')

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    port_pipe.send(server.server_address[1])
    server.serve_forever()


def bench_openai(quick: bool) -> list[dict]:
    from taxon.backends import make_teacher
    from taxon.backends.base import ChatRequest

    latency_s = 0.5  # a short teacher reply; real ones take seconds
    receiver, sender = multiprocessing.Pipe(duplex=False)
    endpoint = multiprocessing.Process(target=_serve_fixed_latency, args=(sender, latency_s), daemon=True)
    endpoint.start()
    url = f"http://127.0.0.1:{receiver.recv()}/v1"
    rows = []
    try:
        for concurrency in (1, 8, 32) if quick else (1, 8, 32, 64):
            count = concurrency * (10 if quick else 20)
            config = {
                "generate": {"backend": "openai", "teacher": "bench"},
                "teacher": {"base_url": url, "concurrency": concurrency, "timeout_s": 30, "retries": 2},
            }
            teacher = make_teacher(config)
            requests = [ChatRequest(({"role": "user", "content": f"q{i}"},), max_tokens=8) for i in range(count)]
            start = time.perf_counter()
            completions = teacher.chat(requests)
            seconds = time.perf_counter() - start
            assert all(c.finish_reason == "stop" for c in completions)
            ideal = concurrency / latency_s
            rows.append(
                {
                    "concurrency": concurrency,
                    "requests": count,
                    "latency_s": latency_s,
                    "seconds": seconds,
                    "requests_per_s": count / seconds,
                    "ideal_per_s": ideal,
                    "share_of_ideal": count / seconds / ideal,
                }
            )
    finally:
        endpoint.terminate()
        endpoint.join()
    return rows


# -- 2. the transformers backend: batched against one at a time ---------------------------


def bench_transformers(quick: bool, threads: int) -> list[dict]:
    from taxon.backends.base import ChatRequest
    from taxon.backends.models import resolve_model
    from taxon.backends.transformers import TransformersTeacher
    from taxon.core.config import load_config

    config = load_config(path=os.path.join(os.path.dirname(__file__), "..", "taxon.toml"))
    model_dir = resolve_model("packaged:smollm2", config)
    teacher = TransformersTeacher(model_dir, spec="packaged:smollm2", threads=threads)
    count, max_tokens = (16, 32) if quick else (32, 64)
    requests = [
        ChatRequest(
            ({"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (variant {i})"},),
            max_tokens=max_tokens,
            temperature=0.0,
        )
        for i in range(count)
    ]
    teacher.batch_size = 2
    teacher.chat(requests[:2])  # warm up
    rows = []
    for batch_size in (1, 8, 32):
        teacher.batch_size = batch_size
        start = time.perf_counter()
        completions = teacher.chat(requests)
        seconds = time.perf_counter() - start
        tokens = sum(c.tokens for c in completions)
        rows.append(
            {
                "batch_size": batch_size,
                "requests": count,
                "tokens": tokens,
                "seconds": seconds,
                "tokens_per_s": tokens / seconds,
            }
        )
    for row in rows:
        row["speedup"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and tokens")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default: %(default)s; more oversubscribe a shared machine)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    print("1. openai backend, fixed-latency endpoint (baseline: the ideal C/L requests/s)")
    print(f"{'C':>4} {'requests':>9} {'L (s)':>6} {'req/s':>8} {'ideal C/L':>10} {'share':>7}  goal >= 90 %")
    openai_rows = bench_openai(args.quick)
    for row in openai_rows:
        print(
            f"{row['concurrency']:>4} {row['requests']:>9} {row['latency_s']:>6.2f} {row['requests_per_s']:>8.1f} "
            f"{row['ideal_per_s']:>10.1f} {row['share_of_ideal']:>7.1%}"
        )

    print(
        f"\n2. transformers backend, packaged SmolLM2-135M, greedy, {args.threads} threads "
        "(baseline: batch 1, one sequence at a time)"
    )
    print(f"{'batch':>6} {'requests':>9} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'speedup':>8}  goal >= 3x")
    transformers_rows = bench_transformers(args.quick, args.threads)
    for row in transformers_rows:
        print(
            f"{row['batch_size']:>6} {row['requests']:>9} {row['tokens']:>7} {row['seconds']:>8.1f} "
            f"{row['tokens_per_s']:>9.1f} {row['speedup']:>7.1f}x"
        )
    worst = min(openai_rows, key=lambda r: r["share_of_ideal"])
    emit(
        "openai teacher throughput, worst concurrency",
        f"{worst['requests_per_s']:.1f} req/s (C={worst['concurrency']})",
        f"ideal C/L {worst['ideal_per_s']:.1f} req/s",
        ">= 90 % of C/L",
        worst["share_of_ideal"] >= 0.9,
    )
    best = max(transformers_rows, key=lambda r: r["speedup"])
    emit(
        "transformers teacher tokens/s, batched",
        f"{best['tokens_per_s']:.1f} tok/s (batch {best['batch_size']})",
        f"one at a time {transformers_rows[0]['tokens_per_s']:.1f} tok/s",
        ">= 3x",
        best["speedup"] >= 3,
    )
    met = all(r["share_of_ideal"] >= 0.9 for r in openai_rows) and max(r["speedup"] for r in transformers_rows) >= 3
    print(f"\ngoals {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
