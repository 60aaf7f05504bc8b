"""Prometheus metrics for operators: queue depth, batch sizes, time in queue, inference time, errors.

Served over HTTP when `METRICS_PORT` is set (`serve_metrics`); updating them costs microseconds, so they
are always updated.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

_LOGGER = logging.getLogger(__name__)

QUEUE_DEPTH = Gauge("foodbot_queue_depth", "Photos waiting for the model", ["backend"])
BATCH_SIZE = Histogram(
    "foodbot_batch_size", "Photos per forward pass", ["backend"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
QUEUE_SECONDS = Histogram(
    "foodbot_queue_seconds",
    "Time from a photo's arrival until its batch starts",
    ["backend"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INFERENCE_SECONDS = Histogram(
    "foodbot_inference_seconds",
    "Time of one batch through the model (decode on the device included)",
    ["backend"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ERRORS = Counter("foodbot_recognition_errors_total", "Photos not recognized, by kind", ["backend", "kind"])


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Expose /metrics on `port` (a background thread of prometheus_client)."""
    start_http_server(port, addr=host)
    _LOGGER.info("metrics on http://%s:%d/metrics", host, port)
