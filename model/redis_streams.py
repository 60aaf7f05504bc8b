"""The names and message shapes both sides of the Redis Streams queue agree on.

* `{prefix}:jobs` — a stream of jobs `{id, image, reply}`, read by the consumer group `workers`;
* `{prefix}:answer:{id}` — the answer of a job (JSON of `Recognition`), kept for `ANSWER_TTL_S`;
* `{prefix}:replies:{bot}` — a stream per bot process, where workers say "job {id} is answered";
* `{prefix}:dead` — jobs given up on after `MAX_DELIVERIES` (their answer is an error);
* `{prefix}:alive:{worker}` — a worker's heartbeat, a key with a short TTL it keeps refreshing: when it
  lapses the worker is dead and the others take over its jobs at once;
* `{prefix}:model` — what the workers serve (JSON of `model.bundle.ServedModel`), set by each worker as
  it starts, so the bot knows the input size and "unsure" threshold without a bundle of its own.

A job's id is the SHA-256 of its image, so a photo sent twice (by a retry, a restarted bot or two people)
is one job with one answer: delivery is at least once and answering twice is harmless.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GROUP = "workers"
ANSWER_TTL_S = 3600
MAX_DELIVERIES = 3
#: Streams are trimmed to about this many entries (XADD MAXLEN ~).
STREAM_MAXLEN = 100_000


def job_id(image: bytes) -> str:
    """The content address of a photo."""
    return hashlib.sha256(image).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix, so several deployments (or tests) can share a Redis."""

    prefix: str = "foodbot"

    @property
    def jobs(self) -> str:
        return f"{self.prefix}:jobs"

    @property
    def model(self) -> str:
        return f"{self.prefix}:model"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    def answer(self, job: str) -> str:
        return f"{self.prefix}:answer:{job}"

    def worker_of(self, job: str) -> str:
        """Which worker answered a job (for operators and tests)."""
        return f"{self.prefix}:worker:{job}"

    def replies(self, bot: str) -> str:
        return f"{self.prefix}:replies:{bot}"

    def alive(self, worker: str) -> str:
        """A worker's heartbeat key; it exists only while the worker is alive."""
        return f"{self.prefix}:alive:{worker}"
