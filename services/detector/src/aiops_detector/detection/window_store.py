"""The shared per-series windows in Redis.

Each batch's deltas are merged by one Lua script that first claims the batch id: a redelivered
batch (after a crash, or to another replica) finds its id taken and adds nothing, so the counts
are exact however many detector replicas consume the queue. Per series and 10-second block a
hash holds, for each second of the block with requests, `<offset>n` (requests), `<offset>e`
(errors, when there were any) and `<offset>b<index>` (latency histogram buckets), the offset
being the second's digit within the block. A key per block rather than per second is what keeps
memory low (a key costs more than its fields) and reads short (one HGETALL covers ten seconds).
Blocks expire after the history the evaluation needs, so memory stays bounded by series x
seconds kept.

Key layout, under a prefix (default `aiops:`):
  batch:<batch id>          marker, set once per batch
  series                    hash  series id -> {"service", "operation"}
  series:seen               zset  series id -> last second with a request
  w10:<series id>:<block>   hash  <offset>n, <offset>e, <offset>b<index>; block = first second
  ex:<series id>            list  recent exemplars (JSON), newest first
  msg:<series id>:<minute>  hash  error message -> count
  late:<series id>          hash  minute -> how late the latest batches came, at most (seconds)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from aiops_core.cache import as_text
from aiops_core.sketch import LatencyHistogram
from aiops_core.windows import Exemplar, Series, SeriesDelta, SlotDelta

EXEMPLARS_KEPT = 50
# Seconds a window key holds: ten, so that a second's offset in its block is one digit.
BLOCK_S = 10

# ARGV: batch key, batch ttl, data ttl, then operations, each "op key count args...":
#   H key n f1 v1 ... fn vn   HINCRBY each field, then EXPIRE
#   S key 1 field value       HSET (the series registry, no expiry)
#   Z key 1 member score      ZADD, keeping the larger score
#   L key n item1 ... itemn   LPUSH, LTRIM to EXEMPLARS_KEPT, EXPIRE
#   X key 1 field value       HSET keeping the larger value, then EXPIRE
_MERGE_SCRIPT = f"""
if not redis.call('SET', ARGV[1], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return 0
end
local ttl = tonumber(ARGV[3])
local i = 4
while i <= #ARGV do
  local op, key, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local args = i + 3
  if op == 'H' then
    for j = 0, n - 1 do
      redis.call('HINCRBY', key, ARGV[args + 2 * j], tonumber(ARGV[args + 2 * j + 1]))
    end
    redis.call('EXPIRE', key, ttl)
    i = args + 2 * n
  elseif op == 'S' then
    redis.call('HSET', key, ARGV[args], ARGV[args + 1])
    i = args + 2
  elseif op == 'Z' then
    local current = redis.call('ZSCORE', key, ARGV[args])
    if (not current) or tonumber(current) < tonumber(ARGV[args + 1]) then
      redis.call('ZADD', key, tonumber(ARGV[args + 1]), ARGV[args])
    end
    i = args + 2
  elseif op == 'X' then
    local current = redis.call('HGET', key, ARGV[args])
    if (not current) or tonumber(current) < tonumber(ARGV[args + 1]) then
      redis.call('HSET', key, ARGV[args], ARGV[args + 1])
    end
    redis.call('EXPIRE', key, ttl)
    i = args + 2
  elseif op == 'L' then
    for j = 0, n - 1 do
      redis.call('LPUSH', key, ARGV[args + j])
    end
    redis.call('LTRIM', key, 0, {EXEMPLARS_KEPT - 1})
    redis.call('EXPIRE', key, ttl)
    i = args + n
  else
    return redis.error_reply('unknown operation ' .. op)
  end
end
return 1
"""


# ARGV: key prefix, now (second), recent window (s), traffic window (s), least and most settle (s),
# then series ids. The traffic window of a series ends `settle` seconds before now, where settle
# is how late its batches came in the last two minutes (within the bounds): spans still on their
# way must not look like a drop. Per series: {requests, errors, traffic requests, settle, bucket
# field, count, ...} summed in Redis, so an evaluation costs one round trip and a small reply.
_READ_SCRIPT = (
    f"local BLOCK_S = {BLOCK_S}\n"
    + """
local prefix, now = ARGV[1], tonumber(ARGV[2])
local window, traffic_window = tonumber(ARGV[3]), tonumber(ARGV[4])
local least, most = tonumber(ARGV[5]), tonumber(ARGV[6])
local minute = now - now % 60
local out = {}
for i = 7, #ARGV do
  local sid = ARGV[i]
  local late = redis.call('HMGET', prefix .. 'late:' .. sid, minute, minute - 60)
  local settle = math.max(least, math.ceil(math.max(tonumber(late[1] or 0), tonumber(late[2] or 0))))
  settle = math.min(most, settle)
  local r_from, r_to = now - window + 1, now
  local t_from, t_to = now - settle - traffic_window, now - settle - 1
  local n, e, tn, buckets = 0, 0, 0, {}
  local first = math.min(r_from, t_from)
  for block = first - first % BLOCK_S, r_to, BLOCK_S do
    local fields = redis.call('HGETALL', prefix .. 'w10:' .. sid .. ':' .. block)
    for j = 1, #fields, 2 do
      local name, count = fields[j], tonumber(fields[j + 1])
      local second = block + tonumber(string.sub(name, 1, 1))
      local measure = string.sub(name, 2)
      local recent = second >= r_from and second <= r_to
      if measure == 'n' then
        if recent then n = n + count end
        if second >= t_from and second <= t_to then tn = tn + count end
      elseif recent then
        if measure == 'e' then e = e + count else buckets[measure] = (buckets[measure] or 0) + count end
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
    def __init__(self, redis: Redis, *, prefix: str = "aiops:", times: StoreTimes | None = None) -> None:
        self._redis = redis
        self._prefix = prefix
        self._times = times or StoreTimes()
        self._merge = redis.register_script(_MERGE_SCRIPT)
        self._read = redis.register_script(_READ_SCRIPT)

    def key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(part) for part in parts)

    async def merge(
        self, batch_id: UUID, deltas: dict[Series, SeriesDelta], received_s: float | None = None
    ) -> bool:
        """Add one batch's deltas; False (and nothing added) when the batch was merged before.
        `received_s`, when given, records how late the batch came (from its oldest span)."""
        args: list[str | int | float] = [
            self.key("batch", batch_id),
            self._times.batch_ids_s,
            self._times.history_s,
        ]
        for series, delta in deltas.items():
            sid = series.id
            # vars(), not asdict(): the fields are plain values, and asdict's deep copy cost more
            # than the rest of the merge.
            args += ["S", self.key("series"), 1, sid, json.dumps(vars(series))]
            args += ["Z", self.key("series:seen"), 1, sid, max(delta.slots)]
            if received_s is not None:
                late_s = round(max(0.0, received_s - delta.oldest_start_s), 3)
                args += ["X", self.key("late", sid), 1, int(received_s) // 60 * 60, late_s]
            for block, fields in _block_fields(delta.slots).items():
                args += ["H", self.key("w10", sid, block), len(fields) // 2, *fields]
            for minute, messages in delta.messages.items():
                fields = [item for message, count in messages.items() for item in (message, count)]
                args += ["H", self.key("msg", sid, minute), len(messages), *fields]
            if delta.exemplars:
                items = [json.dumps(vars(exemplar)) for exemplar in delta.exemplars]
                args += ["L", self.key("ex", sid), len(items), *items]
        merged = await self._merge(args=args)
        return bool(merged)

    async def active_series(self, since_s: int) -> list[Series]:
        """Series with a request at or after `since_s` (epoch seconds); the others are forgotten."""
        stale = await self._redis.zrangebyscore(self.key("series:seen"), "-inf", f"({since_s}")
        if stale:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.key("series"), *stale)
                pipe.zrem(self.key("series:seen"), *stale)
                await pipe.execute()
        members = await self._redis.zrangebyscore(self.key("series:seen"), since_s, "+inf")
        ids = [as_text(member) for member in members if isinstance(member, bytes | str)]
        if not ids:
            return []
        raw = await self._redis.hmget(self.key("series"), ids)
        return [Series(**json.loads(item)) for item in raw if item is not None]

    async def read_windows(
        self, series: Sequence[Series], now_s: int, spans: WindowSpans
    ) -> dict[Series, WindowRead]:
        """Each series' recent window up to `now_s`, and its request count over the traffic
        window, settled by how late its spans have been arriving."""
        result: dict[Series, WindowRead] = {}
        header: list[str | int] = [self._prefix, now_s, spans.window_s, spans.traffic_window_s]
        header += [spans.least_settle_s, spans.most_settle_s]
        for start in range(0, len(series), _READ_CHUNK):
            chunk = series[start : start + _READ_CHUNK]
            rows = await self._read(args=[*header, *(one.id for one in chunk)])
            for one, row in zip(chunk, rows, strict=True):
                window = SlotDelta(requests=int(row[0]), errors=int(row[1]))
                for name, count in zip(row[4::2], row[5::2], strict=True):
                    window.latency.counts[int(as_text(name)[1:])] = int(count)
                result[one] = WindowRead(window, traffic_requests=int(row[2]), settle_s=int(row[3]))
        return result

    async def read_slots(
        self, series: Sequence[Series], first_slot: int, last_slot: int
    ) -> dict[Series, dict[int, SlotDelta]]:
        """Each series' seconds from `first_slot` to `last_slot` inclusive (missing ones are empty)."""
        blocks = range(first_slot - first_slot % BLOCK_S, last_slot + 1, BLOCK_S)
        async with self._redis.pipeline(transaction=False) as pipe:
            for one in series:
                for block in blocks:
                    pipe.hgetall(self.key("w10", one.id, block))
            replies = iter(await pipe.execute())
        result: dict[Series, dict[int, SlotDelta]] = {}
        for one in series:
            by_slot = {slot: SlotDelta() for slot in range(first_slot, last_slot + 1)}
            for block in blocks:
                _add_block(by_slot, block, next(replies))
            result[one] = by_slot
        return result

    async def exemplars(self, series: Series) -> list[Exemplar]:
        raw = await self._redis.lrange(self.key("ex", series.id), 0, -1)
        return [Exemplar(**json.loads(item)) for item in raw]

    async def error_messages(self, series: Series, minutes: Sequence[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        async with self._redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                pipe.hgetall(self.key("msg", series.id, minute))
            for reply in await pipe.execute():
                for message, count in reply.items():
                    counts[as_text(message)] += int(count)
        return counts


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
