"""One Telegram budget for every process of one bot token: the message pace and 429 pauses, in Redis.

Telegram counts about 30 messages a second per token, however many `foodbot run` replicas send them;
each replica pacing itself (`bot.telegram_io.Pace`) would let three replicas send 90. With Redis at hand
(QUEUE_URL, which replicas have anyway), the replicas share `SharedPace`: the same two sliding windows
as `Pace` (the second, and a fifteenth of it), kept as sorted sets of send times read from Redis's own
clock, so machines whose clocks differ still agree. A 429 that one replica meets pauses all of them
until its `retry_after` has passed. Each check and claim is one Lua script: atomic, one round trip.

Keys are named after a digest of the token, so several bots on one Redis keep budgets of their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from typing import Any, Final

from redis.asyncio import Redis

#: Wait (microseconds) until one more send fits every window and no pause holds, else 0 and the send is
#: counted. KEYS: the two windows and the pause; ARGV: limit and length (µs) of each window, a nonce.
_ACQUIRE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return paused * 1000 end
local wait = 0
for i = 1, 2 do
  local limit = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + period - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, now .. ':' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[i], 2000)
end
return 0
"""


class SharedPace:
    """`bot.telegram_io.Pace` across processes (module docstring)."""

    def __init__(self, redis: Redis, token: str, per_second: int, prefix: str = "foodbot") -> None:
        if per_second < 1:
            raise ValueError("a pace lets at least one message through a second")
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        base = f"{prefix}:telegram:{digest}"
        self.keys = (f"{base}:second", f"{base}:fifteenth", f"{base}:pause")
        self._limits = (per_second, 1_000_000, max(1, math.ceil(per_second / 15)), 1_000_000 // 15)
        self._redis = redis
        self._script: Any = redis.register_script(_ACQUIRE)
        #: One claim at a time from this process, first come first served (as `Pace` does): hundreds of
        #: messages waiting at once would otherwise each hold a Redis connection and poll on its own.
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more send fits the shared windows and no shared pause holds; count it."""
        async with self._turn:
            while True:
                args = [*self._limits, uuid.uuid4().hex]
                wait_us = int(await self._script(keys=list(self.keys), args=args))
                if wait_us <= 0:
                    return
                await asyncio.sleep(wait_us / 1_000_000)

    async def pause(self, seconds: float) -> None:
        """Hold every process's sends for `seconds` (Telegram answered 429), unless a longer pause holds."""
        milliseconds = max(1, math.ceil(seconds * 1000))
        current = await self._redis.pttl(self.keys[2])
        if current is None or current < milliseconds:
            await self._redis.set(self.keys[2], 1, px=milliseconds)

    async def close(self) -> None:
        await self._redis.aclose()
