"""Teacher throughput, each figure beside its baseline measured in the same run.

1. The openai backend against a local OpenAI-compatible endpoint that answers every request
   after a fixed latency L, with the concurrency limit C: requests/s against the ideal C/L
   (goal: at least 90 %). The endpoint runs in its own process, so it doesn't share our GIL.
2. The transformers backend on the packaged SmolLM2-135M-Instruct: greedy generation in
   batches of 8 and 32 against one sequence at a time, in generated tokens/s (goal: 3x).
3. Continuous batching on answers of mixed lengths, against static batches (transformers'
   generate(), each batch running until its longest row: taxon's path before) and against
   llama.cpp in-process (llama-cpp-python on the packaged GGUF, when installed: one request at a
   time as llama_cpp.server serves them, and its C API's continuous batching as llama-server
   --parallel runs it; PyPI has no prebuilt wheel for Linux x86-64 and it builds from source in
   about 20 min, so the rows are skipped with a message otherwise), in tokens/s and tokens per
   CPU-second.

    python bench/teachers.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from summary import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test servers' scaffolding
from support.json_http import JSONHandler

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
    from taxon.core.settings import build_config

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
            teacher = make_teacher(build_config(config, "bench"))
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
    model_dir = resolve_model("packaged:smollm2", config.models)
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


# -- 3. continuous batching against static batches and llama.cpp ---------------------------

SHORT_ASKS = ["Name one bird.", "Say yes or no: is water wet?", "Give one word for happy.", "What is 2 + 2?"]


def mixed_requests(count: int, max_tokens: int) -> list:
    """Long and one-word answers interleaved: rows of one batch finish far apart."""
    from taxon.backends.base import ChatRequest

    asks = [QUESTIONS[i % len(QUESTIONS)] if i % 2 else SHORT_ASKS[i % len(SHORT_ASKS)] for i in range(count)]
    return [
        ChatRequest(({"role": "user", "content": f"{ask} (variant {i})"},), max_tokens=max_tokens, temperature=0.0)
        for i, ask in enumerate(asks)
    ]


def _timed(run) -> tuple[int, float, float]:
    """(generated tokens, wall seconds, CPU seconds of this process) of run()."""
    start, cpu = time.perf_counter(), time.process_time()
    tokens = run()
    return tokens, time.perf_counter() - start, time.process_time() - cpu


def _static_batches(teacher, requests, batch_size: int) -> int:
    """transformers' generate() on length-sorted static batches; tokens up to each row's end of turn."""
    import torch

    prompts = sorted((teacher.request_ids(r) for r in requests), key=len)
    tokens = 0
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        inputs = teacher.tokenizer.pad({"input_ids": batch}, return_tensors="pt")
        with torch.inference_mode():
            output = teacher.model.generate(
                **inputs,
                max_new_tokens=requests[0].max_tokens,
                do_sample=False,
                eos_token_id=sorted(teacher.eos_ids),
                pad_token_id=teacher.tokenizer.pad_token_id,
            )
        for row in output[:, inputs["input_ids"].shape[1] :].tolist():
            ended = next((i for i, token in enumerate(row) if token in teacher.eos_ids), len(row) - 1)
            tokens += ended + 1
    return tokens


LLAMA_CPP_MISSING = (
    "skipped: llama-cpp-python is not installed (no prebuilt wheel on PyPI for this platform; "
    "`make llama-cpp` builds it from source once, in about 20 min)"
)


def _llama_cpp_one_at_a_time(requests, threads: int) -> tuple[int, float, float]:
    """llama.cpp on the packaged GGUF (the same weights, Q4_1), one request after another, as
    llama_cpp.server serves them."""
    from llama_cpp import Llama

    from taxon.backends.models import packaged_gguf

    llm = Llama(model_path=str(packaged_gguf("smollm2")), n_ctx=2048, n_threads=threads, verbose=False)

    def run() -> int:
        tokens = 0
        for request in requests:
            reply = llm.create_chat_completion(
                messages=list(request.messages), max_tokens=request.max_tokens, temperature=0.0
            )
            tokens += reply["usage"]["completion_tokens"]
        return tokens

    return _timed(run)


def _llama_cpp_continuous(prompts: list[list[int]], max_tokens: int, slots: int, threads: int):
    """llama.cpp's own continuous batching through its C API, as `llama-server --parallel` runs
    it: up to `slots` sequences decoded together in one llama_decode per step, a finished one
    replaced by the next prompt (its prompt tokens joining that step's batch); greedy. The
    prompts are taxon's token ids, so both sides see the same tokens."""
    import ctypes

    import llama_cpp as lc
    import numpy as np

    from taxon.backends.models import packaged_gguf

    quiet = lc.llama_log_callback(lambda level, text, data: None)  # kept referenced while llama.cpp runs
    lc.llama_log_set(quiet, ctypes.c_void_p(0))
    lc.llama_backend_init()
    model = lc.llama_model_load_from_file(str(packaged_gguf("smollm2")).encode(), lc.llama_model_default_params())
    vocab = lc.llama_model_get_vocab(model)
    n_vocab = lc.llama_vocab_n_tokens(vocab)
    params = lc.llama_context_default_params()
    params.n_seq_max = slots
    params.kv_unified = True  # one KV buffer for all slots, as llama-server uses: 15 % faster here than one per slot
    params.n_ctx = slots * (max(len(p) for p in prompts) + max_tokens + 1)
    params.n_batch = params.n_ctx
    params.n_threads = params.n_threads_batch = threads
    context = lc.llama_init_from_model(model, params)
    memory = lc.llama_get_memory(context)
    batch = lc.llama_batch_init(params.n_batch, 0, 1)

    def add(token: int, position: int, seq: int, wants_logits: bool) -> int:
        index = batch.n_tokens
        batch.token[index], batch.pos[index], batch.n_seq_id[index] = token, position, 1
        batch.seq_id[index][0], batch.logits[index] = seq, wants_logits
        batch.n_tokens += 1
        return index

    def run() -> int:
        pending, free, active, tokens = list(prompts), list(range(slots)), {}, 0
        while pending or active:
            batch.n_tokens = 0
            outputs = [(seq, add(state["next"], state["position"], seq, True)) for seq, state in active.items()]
            for state in active.values():
                state["position"] += 1
            while free and pending:
                seq, prompt = free.pop(), pending.pop(0)
                lc.llama_memory_seq_rm(memory, seq, -1, -1)
                for position, token in enumerate(prompt):
                    index = add(token, position, seq, position == len(prompt) - 1)
                outputs.append((seq, index))
                active[seq] = {"position": len(prompt), "generated": 0}
            if lc.llama_decode(context, batch) != 0:
                raise RuntimeError("llama_decode failed")
            for seq, index in outputs:
                token = int(np.ctypeslib.as_array(lc.llama_get_logits_ith(context, index), shape=(n_vocab,)).argmax())
                state = active[seq]
                state["generated"] += 1
                tokens += 1
                if lc.llama_vocab_is_eog(vocab, token) or state["generated"] >= max_tokens:
                    del active[seq]
                    free.append(seq)
                else:
                    state["next"] = token
        return tokens

    try:
        return _timed(run)
    finally:
        lc.llama_batch_free(batch)
        lc.llama_free(context)
        lc.llama_model_free(model)


def bench_continuous(quick: bool, threads: int) -> list[dict]:
    from taxon.backends.models import resolve_model
    from taxon.backends.transformers import TransformersTeacher
    from taxon.core.config import load_config

    config = load_config(path=os.path.join(os.path.dirname(__file__), "..", "taxon.toml"))
    teacher = TransformersTeacher(
        resolve_model("packaged:smollm2", config.models), spec="packaged:smollm2", threads=threads
    )
    count, max_tokens, batch_size = (16, 48, 8) if quick else (48, 96, 16)
    requests = mixed_requests(count, max_tokens)
    teacher.batch_size = batch_size
    teacher.chat(requests[:2])  # warm up
    rows = []
    for name, run in (
        ("static generate()", lambda: _static_batches(teacher, requests, batch_size)),
        ("taxon continuous", lambda: sum(c.tokens for c in teacher.chat(requests))),
    ):
        tokens, seconds, cpu = _timed(run)
        rows.append({"method": name, "tokens": tokens, "seconds": seconds, "cpu_seconds": cpu})
    if importlib.util.find_spec("llama_cpp") is None:
        rows.append({"method": "llama.cpp", "skipped": LLAMA_CPP_MISSING})
    else:
        prompts = [teacher.request_ids(r) for r in requests]
        for name, run in (
            ("llama.cpp 1 at a time", lambda: _llama_cpp_one_at_a_time(requests, threads)),
            ("llama.cpp continuous", lambda: _llama_cpp_continuous(prompts, max_tokens, batch_size, threads)),
        ):
            tokens, seconds, cpu = run()
            rows.append({"method": name, "tokens": tokens, "seconds": seconds, "cpu_seconds": cpu})
    for row in rows:
        if "tokens" in row:
            row["tokens_per_s"] = row["tokens"] / row["seconds"]
            row["tokens_per_cpu_s"] = row["tokens"] / max(row["cpu_seconds"], 1e-9)
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
    print(
        f"\n3. continuous batching, mixed answer lengths, greedy, {args.threads} threads "
        "(baselines: static batches of transformers' generate(), llama.cpp)"
    )
    print(f"{'method':<22} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'tok/CPU-s':>10} {'vs static':>10}")
    continuous_rows = bench_continuous(args.quick, args.threads)
    static, continuous, *peers = continuous_rows
    # the anchor is llama.cpp at its best: the faster of its two ways of serving
    llama = max(peers, key=lambda row: row.get("tokens_per_s", 0))
    for row in continuous_rows:
        if "skipped" in row:
            print(f"{row['method']:<22} {row['skipped']}")
            continue
        print(
            f"{row['method']:<22} {row['tokens']:>7} {row['seconds']:>8.1f} {row['tokens_per_s']:>9.1f} "
            f"{row['tokens_per_cpu_s']:>10.1f} {row['tokens_per_s'] / static['tokens_per_s']:>9.2f}x"
        )
    emit(
        "transformers teacher tokens/s, continuous batching (mixed lengths)",
        f"{continuous['tokens_per_s']:.1f} tok/s, {continuous['tokens_per_cpu_s']:.1f} tok/CPU-s",
        f"static generate() {static['tokens_per_s']:.1f} tok/s, {static['tokens_per_cpu_s']:.1f} tok/CPU-s",
        "> 1x static",
        continuous["tokens_per_s"] > static["tokens_per_s"],
    )
    emit(
        "transformers teacher tokens/s against llama.cpp in-process",
        f"{continuous['tokens_per_s']:.1f} tok/s",
        llama.get("skipped", f"{llama['method']} {llama.get('tokens_per_s', 0):.1f} tok/s"),
        ">= 1.5x llama.cpp",
        None if "skipped" in llama else continuous["tokens_per_s"] >= 1.5 * llama["tokens_per_s"],
    )
    met = all(r["share_of_ideal"] >= 0.9 for r in openai_rows) and max(r["speedup"] for r in transformers_rows) >= 3
    print(f"\ngoals {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
