"""The detection part of the detector process, wired from settings: the window consumer, the
rollup job, the evaluation loop, and the watches of saturating gauges, metric series and surging
error logs, listed as components for the app to run."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from prometheus_client import CollectorRegistry

from aiops_core.bus import Bus
from aiops_core.cache import Cache
from aiops_core.components import Component
from aiops_core.periodic import PeriodicJob
from aiops_detector.detection.baseline_cache import BaselineCache
from aiops_detector.detection.http_peers import HTTP_PEERS_INTERVAL_S, HttpPeers
from aiops_detector.detection.log_surge_watch import LogSurgeWatch
from aiops_detector.detection.metric_watch import MetricWatch, MetricWatchConfig
from aiops_detector.detection.metrics import DetectionMetrics
from aiops_detector.detection.multivariate import ServiceModels
from aiops_detector.detection.repository import DetectionRepository
from aiops_detector.detection.rollup import RollupJob
from aiops_detector.detection.saturation_watch import SaturationConfig, SaturationWatch
from aiops_detector.detection.service import DetectionConfig, DetectionService
from aiops_detector.detection.window_consumer import WindowConsumer
from aiops_detector.detection.window_store import StoreTimes, WindowStore
from aiops_detector.settings import DetectorSettings


class DetectionRuntime:
    def __init__(
        self,
        settings: DetectorSettings,
        pool: asyncpg.Pool,
        redis: Cache,
        bus: Bus,
        registry: CollectorRegistry,
    ) -> None:
        metrics = DetectionMetrics(registry)
        config = DetectionConfig(
            window_s=settings.window_s,
            traffic_window_s=settings.traffic_window_s,
            settle_s=settings.settle_s,
            clear_after=timedelta(seconds=settings.clear_after_s),
            min_history_s=settings.min_history_s,
            floors=settings.floor_table(),
        )
        history = timedelta(minutes=settings.baseline_history_minutes)
        times = (
            StoreTimes(history_s=config.active_within_s) if settings.multivariate_enabled else StoreTimes()
        )
        windows = WindowStore(
            redis, prefix=settings.redis_key_prefix, times=times, shards=settings.redis_shards
        )
        repository = DetectionRepository(pool)
        self.service = DetectionService(
            redis=redis,
            windows=windows,
            baselines=BaselineCache(
                redis,
                repository,
                recent=history,
                ttl_s=settings.baseline_cache_s,
                min_history_s=settings.min_history_s,
                keys=windows.keys,
            ),
            repository=repository,
            bus=bus,
            metrics=metrics,
            config=config,
            models=ServiceModels(
                windows,
                repository.troubles,
                history_s=config.active_within_s,
                window_s=config.window_s,
            )
            if settings.multivariate_enabled
            else None,
        )
        http_peers = HttpPeers(repository)
        consumer = WindowConsumer(
            bus,
            windows,
            metrics,
            prefetch=settings.broker_prefetch,
            http_peers=http_peers.known,
        )
        rollup = RollupJob(
            repository, first_run_history=history, retention=timedelta(days=settings.rollup_retention_days)
        )
        interval_s = settings.evaluate_interval_s
        log_surges = LogSurgeWatch(repository, clear_after=config.clear_after)
        saturation = SaturationWatch(
            repository,
            SaturationConfig(
                horizon=timedelta(seconds=settings.saturation_horizon_s),
                window=timedelta(seconds=settings.saturation_window_s),
                clear_after=config.clear_after,
            ),
        )

        metric_watch = MetricWatch(
            repository,
            MetricWatchConfig(
                step=timedelta(seconds=settings.metric_step_s),
                sustain_steps=settings.metric_sustain_steps,
                clear_after=config.clear_after,
                max_series=settings.metric_series_watched,
            ),
        )

        async def evaluate() -> None:
            with metrics.evaluation_seconds.time():
                await self.service.evaluate(tick_s=interval_s)

        # Started in this order and stopped in reverse: the windows fill before the first
        # evaluation reads them, evaluation ends before the consumer stops feeding them, and the
        # replica leaves the live set once it evaluates no more.
        self.components: list[Component] = [
            PeriodicJob("http peers", http_peers.refresh, interval_s=HTTP_PEERS_INTERVAL_S),
            consumer,
            PeriodicJob("rollup", rollup.run_once, interval_s=settings.rollup_interval_s),
            self.service.replicas,
            PeriodicJob("evaluation", evaluate, interval_s=interval_s),
            PeriodicJob("saturation", saturation.run_once, interval_s=settings.watch_interval_s),
            PeriodicJob("log surges", log_surges.run_once, interval_s=settings.watch_interval_s),
        ]
        if settings.metric_anomalies:
            self.components.append(
                PeriodicJob("metric anomalies", metric_watch.run_once, interval_s=settings.watch_interval_s)
            )
