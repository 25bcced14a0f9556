"""The names of the detector's Redis keys. A series' keys (its windows, exemplars, baselines)
carry the hash tag of its shard, `{w<n>}` with n = series id mod shards, so that one script or
one MGET can touch the keys of many series of a shard: Redis Cluster keeps a hash tag's keys on
one node and refuses a command whose keys are not. On a single Redis one shard is best (a batch
is then one script call); on Redis Cluster a few shards per primary spread the load."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiops_core.windows import Series


class SeriesKeys:
    def __init__(self, prefix: str = "aiops:", shards: int = 1) -> None:
        self.prefix = prefix
        self.shards = shards

    def key(self, *parts: object) -> str:
        """A key of no series (the series registry, the replica set)."""
        return self.prefix + ":".join(map(str, parts))

    def shard(self, sid: str) -> str:
        """The prefix and hash tag of the shard of the series `sid`; its keys start with it."""
        return f"{self.prefix}{{w{int(sid, 16) % self.shards}}}"

    def of(self, sid: str, name: str, *parts: object) -> str:
        """Key `name` (then `parts`) of the series `sid`."""
        return f"{self.shard(sid)}:" + ":".join(map(str, (name, sid, *parts)))

    def windows(self, sid: str, blocks: Iterable[int]) -> list[str]:
        """The keys a window read of the series `sid` needs: its `late` hash, then the `w10`
        hashes of `blocks` (the same as `of` gives, built at a fraction of the cost: an
        evaluation builds thousands)."""
        shard = self.shard(sid)
        return [f"{shard}:late:{sid}", *(f"{shard}:w10:{sid}:{block}" for block in blocks)]

    def by_shard(self, series: Sequence[Series]) -> dict[str, list[Series]]:
        shards: dict[str, list[Series]] = {}
        for one in series:
            shards.setdefault(self.shard(one.id), []).append(one)
        return shards
