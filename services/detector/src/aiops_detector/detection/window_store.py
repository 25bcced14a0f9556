"""The shared per-series windows in Redis.

Each batch's deltas are merged by a Lua script per shard of series that first claims the batch
id for its shard: a redelivered batch (after a crash, or to another replica) finds its id taken
and adds nothing, so the counts are exact however many detector replicas consume the queue. Per
series and 10-second block a hash holds, for each second of the block with requests, `<offset>n`
(requests), `<offset>e` (errors, when there were any) and `<offset>b<index>` (latency histogram
buckets), the offset being the second's digit within the block. A key per block rather than
per second is what keeps memory low (a key costs more than its fields) and reads short (one
HGETALL covers ten seconds). Blocks expire after the history the evaluation needs, so memory
stays bounded by series x seconds kept.

The keys of a series carry the hash tag of its shard (`{w<n>}`, n = series id mod shards), and
the scripts touch only keys they are given, all of one shard: that is what Redis Cluster asks.

Key layout, under a prefix (default `aiops:`):
  series                          hash  series id -> {"service", "operation"}
  series:seen                     zset  series id -> last second with a request
  {w<n>}:batch:<batch id>         marker, set once per batch and shard
  {w<n>}:w10:<series id>:<block>  hash  <offset>n, <offset>e, <offset>b<index>; block = 1st second
  {w<n>}:ex:<series id>           list  recent exemplars (JSON), newest first
  {w<n>}:msg:<series id>:<minute> hash  error message -> count
  {w<n>}:late:<series id>         hash  minute -> how late the latest batches came, at most (s)
  {w<n>}:claim:<series id>:<tick> the replica evaluating a service (its service-wide series)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from uuid import UUID

from redis.asyncio.client import Pipeline as RedisPipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, FieldT

from aiops_core.cache import Cache, as_text
from aiops_core.sketch import LatencyHistogram
from aiops_core.windows import Exemplar, Series, SeriesDelta, SlotDelta
from aiops_detector.detection.series_keys import SeriesKeys

Pipeline: TypeAlias = RedisPipeline | ClusterPipeline

EXEMPLARS_KEPT = 50
# Seconds a window key holds: ten, so that a second's offset in its block is one digit.
BLOCK_S = 10

# KEYS[1]: the shard's marker of the batch; then one key per operation, in order.
# ARGV: batch ttl, data ttl, then operations, each "op count args...":
#   H n f1 v1 ... fn vn   HINCRBY each field, then EXPIRE
#   L n item1 ... itemn   LPUSH, LTRIM to EXEMPLARS_KEPT, EXPIRE
#   X 1 field value       HSET keeping the larger value, then EXPIRE
_MERGE_SCRIPT = f"""
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  return 0
end
local ttl = tonumber(ARGV[2])
local i, k = 3, 2
while i <= #ARGV do
  local op, n, key = ARGV[i], tonumber(ARGV[i + 1]), KEYS[k]
  local args = i + 2
  k = k + 1
  if op == 'H' then
    for j = 0, n - 1 do
      redis.call('HINCRBY', key, ARGV[args + 2 * j], tonumber(ARGV[args + 2 * j + 1]))
    end
    i = args + 2 * n
  elseif op == 'X' then
    local current = redis.call('HGET', key, ARGV[args])
    if (not current) or tonumber(current) < tonumber(ARGV[args + 1]) then
      redis.call('HSET', key, ARGV[args], ARGV[args + 1])
    end
    i = args + 2
  elseif op == 'L' then
    for j = 0, n - 1 do
      redis.call('LPUSH', key, ARGV[args + j])
    end
    redis.call('LTRIM', key, 0, {EXEMPLARS_KEPT - 1})
    i = args + n
  else
    return redis.error_reply('unknown operation ' .. op)
  end
  redis.call('EXPIRE', key, ttl)
end
return 1
"""


# KEYS: per series, its `late` hash, then its blocks from the first one (ARGV[6]) on, ARGV[7] of
# them: every block the windows can reach whatever the settle.
# ARGV: now (second), recent window (s), traffic window (s), least and most settle (s), first
# block, blocks per series. The traffic window of a series ends `settle` seconds before now, where
# settle is how late its batches came in the last two minutes (within the bounds): spans still on
# their way must not look like a drop. Per series: {requests, errors, traffic requests, settle,
# bucket field, count, ...} summed in Redis, so an evaluation costs one round trip and a small
# reply.
_READ_SCRIPT = (
    f"local BLOCK_S = {BLOCK_S}\n"
    + """
local now = tonumber(ARGV[1])
local window, traffic_window = tonumber(ARGV[2]), tonumber(ARGV[3])
local least, most = tonumber(ARGV[4]), tonumber(ARGV[5])
local first_block, blocks = tonumber(ARGV[6]), tonumber(ARGV[7])
local minute = now - now % 60
local out = {}
for base = 0, #KEYS - 1, blocks + 1 do
  local late = redis.call('HMGET', KEYS[base + 1], minute, minute - 60)
  local settle = math.max(least, math.ceil(math.max(tonumber(late[1] or 0), tonumber(late[2] or 0))))
  settle = math.min(most, settle)
  local r_from, r_to = now - window + 1, now
  local t_from, t_to = now - settle - traffic_window, now - settle - 1
  local n, e, tn, buckets = 0, 0, 0, {}
  local first = math.min(r_from, t_from)
  for b = 0, blocks - 1 do
    local block = first_block + b * BLOCK_S
    if block + BLOCK_S > first then
      local fields = redis.call('HGETALL', KEYS[base + 2 + b])
      for j = 1, #fields, 2 do
        -- Bytes rather than substrings: this loop is most of what an evaluation costs Redis.
        local name = fields[j]
        local second = block + string.byte(name, 1) - 48
        local measure = string.byte(name, 2)
        if measure == 110 then  -- 'n'
          if second >= r_from and second <= r_to then n = n + tonumber(fields[j + 1]) end
          if second >= t_from and second <= t_to then tn = tn + tonumber(fields[j + 1]) end
        elseif second >= r_from and second <= r_to then
          if measure == 101 then  -- 'e'
            e = e + tonumber(fields[j + 1])
          else
            local bucket = string.sub(name, 2)
            buckets[bucket] = (buckets[bucket] or 0) + tonumber(fields[j + 1])
          end
        end
      end
    end
  end
  local row = {n, e, tn, settle}
  for name, count in pairs(buckets) do
    row[#row + 1] = name
    row[#row + 1] = count
  end
  out[#out + 1] = row
end
return out
"""
)
# Series read by one script call: bounds how long Redis is busy with it.
_READ_CHUNK = 250
_READS_IN_FLIGHT = 4

# KEYS: the claims of one shard's services for a tick. ARGV: the claiming replica, the claims'
# expiry (s). Returns each claim's holder: this replica where it claimed first (or before).
_CLAIM_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
    out[i] = ARGV[1]
  else
    out[i] = redis.call('GET', key)
  end
end
return out
"""


@dataclass(frozen=True)
class WindowSpans:
    """The lengths, in seconds, of what an evaluation reads."""

    window_s: int
    traffic_window_s: int
    least_settle_s: int
    most_settle_s: int


@dataclass(frozen=True)
class WindowRead:
    """A series' recent window (requests, errors, latency) and its request count over the
    traffic window, which ended `settle_s` seconds ago."""

    recent: SlotDelta
    traffic_requests: int
    settle_s: int


@dataclass(frozen=True)
class StoreTimes:
    """How long things are kept, in seconds. The per-second slots, exemplars and messages need
    only cover what the evaluation reads (the last window, the evidence of the last minutes) —
    longer when the multivariate model trains on them."""

    batch_ids_s: int = 3600
    history_s: int = 120


class WindowStore:
    """`shards`: how many hash tags the series' keys are spread over (see `SeriesKeys`)."""

    def __init__(
        self, redis: Cache, *, prefix: str = "aiops:", times: StoreTimes | None = None, shards: int = 1
    ) -> None:
        self._redis = redis
        self.keys = SeriesKeys(prefix, shards)
        self._times = times or StoreTimes()
        self._series: dict[str, Series] = {}  # the active series by id, as last read
        self._merge = _Script(_MERGE_SCRIPT)
        self._read = _Script(_READ_SCRIPT)
        self._claim = _Script(_CLAIM_SCRIPT)

    async def merge(
        self, batch_id: UUID, deltas: dict[Series, SeriesDelta], received_s: float | None = None
    ) -> bool:
        """Add one batch's deltas; False (and nothing added) when the batch was merged before.
        Each shard claims the batch for its own series within the script that adds them, so a
        merge cut short (a crash, a lost connection) adds the rest, and only the rest, when the
        batch comes again. `received_s`, when given, records how late the batch came (from its
        oldest span)."""
        by_shard: dict[str, tuple[list[str], list[str | int | float]]] = {}
        registry: dict[FieldT, EncodableT] = {}
        seen: dict[str, int] = {}
        for series, delta in deltas.items():
            sid = series.id
            registry[sid] = json.dumps({"service": series.service, "operation": series.operation})
            seen[sid] = max(delta.slots)
            shard = self.keys.shard(sid)
            keys, args = by_shard.setdefault(
                shard, ([f"{shard}:batch:{batch_id}"], [self._times.batch_ids_s, self._times.history_s])
            )
            if received_s is not None:
                late_s = round(max(0.0, received_s - delta.oldest_start_s), 3)
                keys.append(self.keys.of(sid, "late"))
                args += ["X", 1, int(received_s) // 60 * 60, late_s]
            for block, fields in _block_fields(delta.slots).items():
                keys.append(self.keys.of(sid, "w10", block))
                args += ["H", len(fields) // 2, *fields]
            for minute, messages in delta.messages.items():
                keys.append(self.keys.of(sid, "msg", minute))
                args += ["H", len(messages), *(item for pair in messages.items() for item in pair)]
            if delta.exemplars:
                keys.append(self.keys.of(sid, "ex"))
                args += ["L", len(delta.exemplars), *(json.dumps(vars(one)) for one in delta.exemplars)]

        def queue(pipe: Pipeline) -> None:
            for keys, args in by_shard.values():
                self._merge.queue(pipe, keys, args)
            # The registry is the same however often it is written: it needs no marker.
            pipe.hset(self.keys.key("series"), mapping=registry)
            pipe.zadd(self.keys.key("series:seen"), seen, gt=True)

        replies = await self._run(queue)
        return any(replies[: len(by_shard)])

    async def active_series(self, since_s: int) -> list[Series]:
        """Series with a request at or after `since_s` (epoch seconds); the others are forgotten."""
        stale = await self._redis.zrangebyscore(self.keys.key("series:seen"), "-inf", f"({since_s}")
        if stale:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hdel(self.keys.key("series"), *stale)
                pipe.zrem(self.keys.key("series:seen"), *stale)
                await pipe.execute()
        members = await self._redis.zrangebyscore(self.keys.key("series:seen"), since_s, "+inf")
        ids = [as_text(member) for member in members if isinstance(member, bytes | str)]
        # A series id names the same series for ever: only those not seen before are read.
        known = {sid: self._series[sid] for sid in ids if sid in self._series}
        new = [sid for sid in ids if sid not in known]
        if new:
            for sid, item in zip(new, await self._redis.hmget(self.keys.key("series"), new), strict=True):
                if item is not None:
                    known[sid] = Series(**json.loads(item))
        self._series = known
        return list(known.values())

    async def read_windows(
        self, series: Sequence[Series], now_s: int, spans: WindowSpans
    ) -> dict[Series, WindowRead]:
        """Each series' recent window up to `now_s`, and its request count over the traffic
        window, settled by how late its spans have been arriving."""
        last_block = now_s - now_s % BLOCK_S
        reach = min(now_s - spans.window_s + 1, now_s - spans.most_settle_s - spans.traffic_window_s)
        blocks = range(reach - reach % BLOCK_S, last_block + 1, BLOCK_S)
        args = [now_s, spans.window_s, spans.traffic_window_s, spans.least_settle_s, spans.most_settle_s]
        args += [blocks.start, len(blocks)]
        chunks = [
            chunk[start : start + _READ_CHUNK]
            for chunk in self.keys.by_shard(series).values()
            for start in range(0, len(chunk), _READ_CHUNK)
        ]
        # A few chunks in flight at once, each on its own connection: Redis sums one while this
        # process packs the next and parses the last, rather than each waiting for the other.
        in_flight = asyncio.Semaphore(_READS_IN_FLIGHT)

        async def read(chunk: list[Series]) -> dict[Series, WindowRead]:
            def queue(pipe: Pipeline) -> None:
                keys = []
                for one in chunk:
                    keys += self.keys.windows(one.id, blocks)
                self._read.queue(pipe, keys, args)

            async with in_flight:
                [rows] = await self._run(queue)
            result = {}
            for one, row in zip(chunk, rows, strict=True):
                window = SlotDelta(requests=int(row[0]), errors=int(row[1]))
                for name, count in zip(row[4::2], row[5::2], strict=True):
                    window.latency.counts[int(as_text(name)[1:])] = int(count)
                result[one] = WindowRead(window, traffic_requests=int(row[2]), settle_s=int(row[3]))
            return result

        return {one: read for part in await asyncio.gather(*map(read, chunks)) for one, read in part.items()}

    async def read_slots(
        self, series: Sequence[Series], first_slot: int, last_slot: int
    ) -> dict[Series, dict[int, SlotDelta]]:
        """Each series' seconds from `first_slot` to `last_slot` inclusive (missing ones are empty)."""
        blocks = range(first_slot - first_slot % BLOCK_S, last_slot + 1, BLOCK_S)
        async with self._redis.pipeline(transaction=False) as pipe:
            for one in series:
                for block in blocks:
                    pipe.hgetall(self.keys.of(one.id, "w10", block))
            replies = iter(await pipe.execute())
        result: dict[Series, dict[int, SlotDelta]] = {}
        for one in series:
            by_slot = {slot: SlotDelta() for slot in range(first_slot, last_slot + 1)}
            for block in blocks:
                _add_block(by_slot, block, next(replies))
            result[one] = by_slot
        return result

    async def claim(self, series: Sequence[Series], tick: int, holder: str, expiry_s: int) -> list[Series]:
        """The series of `series` that `holder` holds for `tick`: those it claimed first, now or
        earlier in the tick. A script per shard claims all of its series at once."""
        by_shard = self.keys.by_shard(series)

        def queue(pipe: Pipeline) -> None:
            for members in by_shard.values():
                claims = [self.keys.of(one.id, "claim", tick) for one in members]
                self._claim.queue(pipe, claims, [holder, expiry_s])

        holders = await self._run(queue)
        return [
            one
            for members, held_by in zip(by_shard.values(), holders, strict=True)
            for one, by in zip(members, held_by, strict=True)
            if as_text(by) == holder
        ]

    async def exemplars(self, series: Series) -> list[Exemplar]:
        raw = await self._redis.lrange(self.keys.of(series.id, "ex"), 0, -1)
        return [Exemplar(**json.loads(item)) for item in raw]

    async def error_messages(self, series: Series, minutes: Sequence[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        async with self._redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                pipe.hgetall(self.keys.of(series.id, "msg", minute))
            for reply in await pipe.execute():
                for message, count in reply.items():
                    counts[as_text(message)] += int(count)
        return counts

    async def _run(self, queue: Callable[[Pipeline], None]) -> list[Any]:
        """The replies of the commands `queue` puts in one pipeline. When Redis has lost the
        scripts (a restart, a failover) they are loaded and the pipeline run again: a merge is
        safe to repeat (the shard's marker), a read changes nothing."""
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                queue(pipe)
                try:
                    return await pipe.execute()
                except NoScriptError:
                    if attempt:
                        raise
            for script in (self._merge, self._read, self._claim):
                await script.load(self._redis)
        raise AssertionError("unreachable")


class _Script:
    """A Lua script run by its digest within pipelines (redis-py's Script loads itself only
    outside a pipeline, or in a single Redis's)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[str | int | float]) -> None:
        # The command itself: redis-py's cluster pipeline blocks its `evalsha` method, yet routes
        # an EVALSHA by its first key, which is all a script of one shard needs.
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    async def load(self, redis: Cache) -> None:
        await redis.script_load(self.text)  # on Redis Cluster, into every primary


def _block_fields(slots: dict[int, SlotDelta]) -> dict[int, list[str | int]]:
    """The HINCRBY fields of each 10-s block the seconds of `slots` fall in."""
    blocks: dict[int, list[str | int]] = {}
    for second, slot in slots.items():
        offset = second % BLOCK_S
        fields = blocks.setdefault(second - offset, [])
        fields += [f"{offset}n", slot.requests]
        if slot.errors:
            fields += [f"{offset}e", slot.errors]
        for bucket, count in slot.latency.counts.items():
            fields += [f"{offset}b{bucket}", count]
    return blocks


def _add_block(by_slot: dict[int, SlotDelta], block: int, fields: dict[bytes | str, bytes | str]) -> None:
    """Add a block's fields into the seconds of `by_slot` (those outside it are left out)."""
    for name, value in fields.items():
        text = as_text(name)
        slot = by_slot.get(block + int(text[0]))
        if slot is None:
            continue
        measure, count = text[1:], int(value)
        if measure == "n":
            slot.requests += count
        elif measure == "e":
            slot.errors += count
        else:
            slot.latency.counts[int(measure[1:])] += count


def merge_slots(slots: Sequence[SlotDelta]) -> SlotDelta:
    total = SlotDelta(latency=LatencyHistogram())
    for slot in slots:
        total.requests += slot.requests
        total.errors += slot.errors
        total.latency.merge(slot.latency)
    return total
