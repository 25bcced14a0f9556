import asyncio

import pytest

from aiops_core.bus import BrokerUnavailableError
from aiops_core.models import SpanFields
from aiops_ingest.batcher import Batcher


def _spans(n: int, prefix: int = 0) -> list[SpanFields]:
    return [
        SpanFields(
            trace_id=f"{prefix:016x}{i:016x}",
            span_id=f"{i + 1:016x}",
            parent_span_id=None,
            service="shop",
            operation="GET /",
            kind="server",
            start_time_unix_nano=1,
            duration_ns=1,
            http_status=None,
            is_error=False,
            error_message=None,
            attributes={},
            peer=None,
            peer_kind=None,
            instance=None,
        )
        for i in range(n)
    ]


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[SpanFields]] = []
        self.fail = fail

    async def __call__(self, spans: list[SpanFields]) -> None:
        await asyncio.sleep(0.001)
        if self.fail:
            raise BrokerUnavailableError("broker down")
        self.batches.append(spans)


async def test_concurrent_small_requests_share_one_message() -> None:
    publish = Recorder()
    batcher = Batcher[SpanFields](publish, max_items=1000, linger_s=0.05)
    await asyncio.gather(*(batcher.submit(_spans(1, prefix=i)) for i in range(50)))
    assert len(publish.batches) == 1
    assert len(publish.batches[0]) == 50


async def test_a_full_batch_goes_at_once_without_lingering() -> None:
    publish = Recorder()
    batcher = Batcher[SpanFields](publish, max_items=100, linger_s=60)
    await asyncio.wait_for(batcher.submit(_spans(100)), 5)
    assert [len(b) for b in publish.batches] == [100]


async def test_a_large_request_is_split_into_full_batches() -> None:
    publish = Recorder()
    batcher = Batcher[SpanFields](publish, max_items=100, linger_s=0.01)
    spans = _spans(250)
    await batcher.submit(spans)
    assert [len(b) for b in publish.batches] == [100, 100, 50]
    assert [s for b in publish.batches for s in b] == spans


async def test_submit_returns_only_after_the_publish_is_confirmed() -> None:
    release = asyncio.Event()
    published: list[list[SpanFields]] = []

    async def slow_publish(spans: list[SpanFields]) -> None:
        await release.wait()
        published.append(spans)

    batcher = Batcher[SpanFields](slow_publish, max_items=10, linger_s=0)
    submit = asyncio.create_task(batcher.submit(_spans(3)))
    await asyncio.sleep(0.05)
    assert not submit.done()
    release.set()
    await asyncio.wait_for(submit, 5)
    assert len(published) == 1


async def test_a_failed_publish_fails_every_request_in_the_batch() -> None:
    batcher = Batcher[SpanFields](Recorder(fail=True), max_items=1000, linger_s=0.01)
    results = await asyncio.gather(
        batcher.submit(_spans(2)), batcher.submit(_spans(3, prefix=9)), return_exceptions=True
    )
    assert all(isinstance(r, BrokerUnavailableError) for r in results)


async def test_a_cancelled_request_does_not_cancel_the_shared_batch() -> None:
    publish = Recorder()
    batcher = Batcher[SpanFields](publish, max_items=1000, linger_s=0.05)
    leaving = asyncio.create_task(batcher.submit(_spans(1)))
    staying = asyncio.create_task(batcher.submit(_spans(1, prefix=1)))
    await asyncio.sleep(0.01)
    leaving.cancel()
    await staying
    assert sum(len(b) for b in publish.batches) == 2
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_close_publishes_what_is_pending() -> None:
    publish = Recorder()
    batcher = Batcher[SpanFields](publish, max_items=1000, linger_s=60)
    submit = asyncio.create_task(batcher.submit(_spans(5)))
    await asyncio.sleep(0.01)
    await batcher.close()
    await asyncio.wait_for(submit, 5)
    assert [len(b) for b in publish.batches] == [5]
