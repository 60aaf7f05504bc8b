"""`foodbot bench`: how fast recognition runs here, measured against this machine's own ceiling.

In one run: (a) the runtime's raw forward on ready tensors at the best batch size; (b) end to end through
the in-process batcher (JPEG bytes in, Recognition out) under a saturating load; (c) latency p50/p99 at
half that load. `ratio` = b / a says how much of the model's speed the serving path keeps.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections import Counter
from typing import Any

import numpy as np
from PIL import Image

from model.queue import InProcessQueue
from model.recognizer import Recognizer


def make_jpegs(size: int, count: int = 48, seed: int = 0) -> list[bytes]:
    """Photo-like JPEGs (smooth colour fields with texture) of `size` × 3/4 `size` pixels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size * 3 // 4), Image.Resampling.BICUBIC)
        noise = rng.normal(0, 12, (size * 3 // 4, size, 3))
        pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def raw_throughput(recognizer: Recognizer, images: list[bytes], seconds: float) -> dict[str, Any]:
    """Images/s of the runtime alone on preprocessed tensors, per batch size; the best one wins."""
    tensors = [recognizer.preprocess(data) for data in images]
    sizes = [1, 4, 8, 16, 32] + ([64, 128, 256] if recognizer.device != "cpu" else [])
    rates: dict[int, float] = {}
    for batch_size in sizes:
        # Handed over as the served path hands them (one tensor per photo), so neither side is spared a
        # stacking step the other pays for.
        batch = [tensors[i % len(tensors)] for i in range(batch_size)]
        recognizer.probabilities(batch)  # warm-up
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / len(sizes):
            recognizer.probabilities(batch)
            done += batch_size
        rates[batch_size] = done / (time.perf_counter() - started)
    best = max(rates, key=lambda b: rates[b])
    return {"batch": best, "rate": rates[best], "by_batch": {str(b): round(r, 1) for b, r in rates.items()}}


async def _saturate(queue: InProcessQueue, images: list[bytes], seconds: float, clients: int) -> int:
    deadline = time.perf_counter() + seconds
    answered = 0

    async def client(offset: int) -> None:
        nonlocal answered
        n = offset
        while time.perf_counter() < deadline:
            answer = await queue.recognize(images[n % len(images)])
            if answer.error is None:
                answered += 1
            n += clients

    await asyncio.gather(*(client(i) for i in range(clients)))
    return answered


async def _latencies(queue: InProcessQueue, images: list[bytes], rate: float, seconds: float) -> list[float]:
    """Open-loop arrivals at `rate` per second; each photo's time from arrival to answer."""
    latencies: list[float] = []

    async def one(data: bytes) -> None:
        started = time.perf_counter()
        await queue.recognize(data)
        latencies.append(time.perf_counter() - started)

    tasks = []
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        tasks.append(asyncio.create_task(one(images[n % len(images)])))
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    return latencies


async def end_to_end(
    recognizer: Recognizer, images: list[bytes], batch: int, seconds: float
) -> dict[str, Any]:
    """(b) and (c) through the real batcher."""
    queue = InProcessQueue(lambda: recognizer, max_batch=batch, max_wait_ms=5, max_pending=batch * 8)
    await queue.start()
    try:
        await _saturate(queue, images, 0.5, batch * 2)  # warm-up
        queue.batch_sizes.clear()
        started = time.perf_counter()
        answered = await _saturate(queue, images, seconds, clients=batch * 4)
        throughput = answered / (time.perf_counter() - started)
        seen = Counter(queue.batch_sizes)
        latencies = await _latencies(queue, images, throughput / 2, seconds)
    finally:
        await queue.close()
    ordered = sorted(latencies)
    return {
        "throughput": throughput,
        "batch_sizes": {str(k): v for k, v in sorted(seen.items())},
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "half_load_per_s": throughput / 2,
    }


def run_bench(recognizer: Recognizer, size: int, seconds: float) -> dict[str, Any]:
    """The whole measurement; returns the JSON-ready figures."""
    images = make_jpegs(size)
    raw = raw_throughput(recognizer, images, seconds)
    served = asyncio.run(end_to_end(recognizer, images, raw["batch"], seconds))
    return {
        "device": recognizer.device,
        "runtime": recognizer.runtime.name,
        "decode_on_device": recognizer.decodes_on_device,
        "photo_size": f"{size}x{size * 3 // 4}",
        "raw_throughput": round(raw["rate"], 1),
        "raw_batch": raw["batch"],
        "raw_by_batch": raw["by_batch"],
        "throughput": round(served["throughput"], 1),
        "ratio": round(served["throughput"] / raw["rate"], 3),
        "p50_ms": round(served["p50_ms"], 1),
        "p99_ms": round(served["p99_ms"], 1),
        "half_load_per_s": round(served["half_load_per_s"], 1),
        "batch_sizes": served["batch_sizes"],
        "threads": _threads(recognizer),
    }


def _threads(recognizer: Recognizer) -> int:
    """CPU threads the runtime computes on: ONNX Runtime's own pool, else PyTorch's (imported only then,
    so benchmarking an ONNX bundle on the CPU loads no PyTorch, as serving it does not)."""
    threads = getattr(recognizer.runtime, "threads", None)
    if isinstance(threads, int):
        return threads
    import torch

    return torch.get_num_threads()
