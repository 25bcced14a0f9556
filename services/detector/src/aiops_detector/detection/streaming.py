"""A streaming univariate anomaly scorer: one instance per series, one point at a time.

Each point is measured as robust z-scores against rolling medians/MADs of the recent past: its
value (level), the mean of the last few values (a sustained shift), its change from the previous
point (a jump), its differences from the same time one day and one week earlier (a broken daily
or weekly pattern), and its value against a longer history (a slow drift the recent median
follows). A value far beyond every value seen so far is surprising by itself. A z-score only
counts as surprising when it beats both a fixed alarm level and, by a margin, the largest z-score
of the same kind in the recent past: a series whose normal life includes big jumps or regular
spikes must outdo them to raise an alarm. After an alarm the scorer stays quiet for a while,
since one anomaly is one episode.

Strictly online: the score of a point depends only on that point and the ones before it. A point
can also be judged without being learned (`judge`, then `learn` only what should teach): the live
watch of metrics keeps the points of a fault out of what normal looks like. Memory is
bounded (fixed-length histories) and each update costs a bounded amount of work (sorted rolling
windows give the medians and MADs by binary search, `rolling.py`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sized
from dataclasses import dataclass
from datetime import datetime

from aiops_detector.detection.robust import ALARM_SCORE, robust_z, surprise_to_score
from aiops_detector.detection.rolling import RollingMax, RollingOrder

# While quiet after an alarm, scores stay just below the alarm level: still ordered, never alarms.
QUIET_SCORE_CAP = ALARM_SCORE * 0.99

# z-scores are capped so that a perfectly flat history cannot produce an infinite record that no
# later point could ever beat.
Z_CAP = 1e3

DAY_SECONDS = 86_400.0

# The spread floor of a history that is exactly zero throughout.
MIN_SPREAD = 1e-12


@dataclass(frozen=True)
class StreamingParameters:
    # Points only learned from: too little history to judge by.
    warmup_points: int = 150
    # Length of the rolling history each z-score is measured against.
    history_points: int = 500
    # A z-score must reach this to be surprising at all.
    alarm_z: float = 5.5
    # ... and beat the largest z-score of the last `calibration_points` by this factor.
    calibration_margin: float = 1.2
    calibration_points: int = 400
    # The smallest spread believed, relative to the history's level or range: a flat history
    # must not turn a small wobble into an alarm.
    relative_spread_floor: float = 0.005
    # Points averaged to see a sustained shift that single points hide in their noise.
    short_points: int = 10
    # The seasons, in days: the same time a day earlier (a broken daily pattern) and a week
    # earlier (a weekday that behaves unlike its weekday). At most `max_season_points` points of
    # each are kept: a series sampled so finely that a season is longer gets no view of it.
    season_days: tuple[float, ...] = (1.0, 7.0)
    max_season_points: int = 2000
    # How much more a season's surprise is believed, per season: week-over-week differences
    # of a normal series are already small, so a broken weekly pattern needs less to alarm.
    season_sensitivities: tuple[float, ...] = (1.0, 1.2)
    # A slow drift moves the rolling median along with it; the level against a longer history
    # (and its own longer calibration) still sees where the series has gone.
    long_history_points: int = 2000
    long_calibration_points: int = 1000
    # A value beyond the highest or lowest value ever seen by this fraction of their range is
    # a new record worth an alarm by itself (surprise 1.0), whatever its z-scores say.
    record_tolerance: float = 0.2
    # After an alarm, no new alarm for this many points: one anomaly is one episode.
    quiet_points: int = 100

    def max_retained_points(self) -> int:
        seasons = len(self.season_days)
        return (
            (2 + seasons) * self.history_points
            + (3 + seasons) * self.calibration_points
            + self.short_points
            + seasons * (self.max_season_points + 1)
            + self.long_history_points
            + self.long_calibration_points
        )


class RobustZ:
    """|robust z| of values against the median and MAD of the last `size` values."""

    MIN_HISTORY = 10

    def __init__(self, size: int) -> None:
        self.history = RollingOrder(size)
        # Computed once per point: the level and the shift views share them.
        self._centre_and_mad: tuple[float, float] | None = None

    def __len__(self) -> int:
        return len(self.history)

    def z(self, value: float, floor: float) -> float:
        """|z| of `value` without learning it (0 while the history is nearly empty); `floor` is
        the smallest spread believed."""
        if len(self.history) < self.MIN_HISTORY:
            return 0.0
        if self._centre_and_mad is None:
            self._centre_and_mad = self.history.median(), self.history.median_absolute_deviation()
        centre, mad = self._centre_and_mad
        return min(abs(robust_z(value, centre, mad, floor)), Z_CAP)

    def learn(self, value: float) -> None:
        self.history.append(value)
        self._centre_and_mad = None


class CalibratedSurprise:
    """A z-score as a surprise (1.0 = alarm level) relative to the z-scores of its own recent past.

    `sensitivity` scales the surprise (above 1: this kind of z-score needs less to alarm);
    `points` overrides how far back the recent past reaches.
    """

    def __init__(
        self, parameters: StreamingParameters, *, sensitivity: float = 1.0, points: int | None = None
    ) -> None:
        self._alarm_z = parameters.alarm_z
        self._margin = parameters.calibration_margin
        self._sensitivity = sensitivity
        self._past = RollingMax(points or parameters.calibration_points)

    def __len__(self) -> int:
        return len(self._past)

    def observe(self, z: float, *, learn: bool = True) -> float:
        surprise = self._sensitivity * z / max(self._alarm_z, self._margin * self._past.max())
        if learn:
            self._past.append(z)
        return surprise


class SeasonalLag:
    """How many points make one season, judged from the first points' spacing (0: no season)."""

    SPACING_SAMPLE = 20

    def __init__(self, season_seconds: float, max_points: int) -> None:
        self._season_seconds = season_seconds
        self._max_points = max_points
        self._first: datetime | None = None
        self._seen = 0
        self.points: int | None = None

    def observe(self, timestamp: datetime) -> None:
        if self._first is None:
            self._first = timestamp
        elif self.points is None and self._seen >= self.SPACING_SAMPLE:
            spacing = (timestamp - self._first).total_seconds() / self._seen
            lag = round(self._season_seconds / spacing) if spacing > 0 else 0
            self.points = lag if 2 <= lag <= self._max_points else 0
        self._seen += 1


class SeasonalView:
    """A point's difference from the point one season earlier, as a calibrated surprise.

    The season's length in points is learned from the first timestamps; a series sampled so finely
    that a season exceeds `max_points` gets no view (surprise 0). The view has its own warm-up: it
    starts one season late, then learns its differences for `warmup_points`.
    """

    def __init__(self, season_seconds: float, sensitivity: float, parameters: StreamingParameters) -> None:
        self._max_points = max_points = parameters.max_season_points
        self._history_points = parameters.history_points
        self._lag = SeasonalLag(season_seconds, max_points)
        self._past: deque[float] = deque(maxlen=max_points + 1)
        self._differences = RobustZ(parameters.history_points)
        self._surprise = CalibratedSurprise(parameters, sensitivity=sensitivity)
        self._warmup_points = parameters.warmup_points

    def __len__(self) -> int:
        return len(self._past) + len(self._differences) + len(self._surprise)

    def observe(self, timestamp: datetime, value: float, floor: float, *, learn: bool = True) -> float:
        lag = self._lag.points
        if learn:
            self._lag.observe(timestamp)
            lag = self._lag.points
        # The point one season before this one, as if this one were in the past already.
        past = len(self._past)
        if not lag or min(past + 1, self._max_points + 1) <= lag:
            if learn:
                self._past.append(value)
            return 0.0
        difference = value - self._past[-lag]
        surprise = self._surprise.observe(self._differences.z(difference, floor), learn=learn)
        if learn:
            self._past.append(value)
            self._differences.learn(difference)
        # Warm once this difference is learned (or would be).
        learned = len(self._differences) if learn else min(len(self._differences) + 1, self._history_points)
        return surprise if learned > self._warmup_points else 0.0


class RecordExcursion:
    """How far a value goes beyond the highest or lowest value seen so far, in units of
    `tolerance` x their range (1.0 = alarm level). Two numbers of memory, from the first point."""

    def __init__(self, tolerance: float) -> None:
        self._tolerance = tolerance
        self._low = math.inf
        self._high = -math.inf

    def observe(self, value: float, *, learn: bool = True) -> float:
        span = self._high - self._low
        beyond = max(value - self._high, self._low - value, 0.0)
        surprise = beyond / (self._tolerance * span) if math.isfinite(span) and span > 0 else 0.0
        if learn:
            self._low = min(self._low, value)
            self._high = max(self._high, value)
        return surprise


class StreamingScorer:
    def __init__(self, parameters: StreamingParameters | None = None) -> None:
        self.parameters = p = parameters or StreamingParameters()
        self._values = RobustZ(p.history_points)
        self._changes = RobustZ(p.history_points)
        self._recent: deque[float] = deque(maxlen=p.short_points)
        self._level = CalibratedSurprise(p)
        self._shift = CalibratedSurprise(p)
        self._jump = CalibratedSurprise(p)
        self._seasonal_views = [
            SeasonalView(days * DAY_SECONDS, sensitivity, p)
            for days, sensitivity in zip(p.season_days, p.season_sensitivities, strict=True)
        ]
        self._long_values = RobustZ(p.long_history_points)
        self._long_level = CalibratedSurprise(p, points=p.long_calibration_points)
        self._records = RecordExcursion(p.record_tolerance)
        self._previous: float | None = None
        self._seen = 0
        self._quiet_left = 0

    def retained_points(self) -> int:
        kept: tuple[Sized, ...] = (
            self._values,
            self._changes,
            self._recent,
            self._level,
            self._shift,
            self._jump,
            self._long_values,
            self._long_level,
        )
        return sum(len(part) for part in kept) + sum(len(view) for view in self._seasonal_views)

    def update(self, timestamp: datetime, value: float) -> float:
        """The anomaly score of this point, in [0, 1], learned; `>= ALARM_SCORE` is an anomaly.
        After an alarm, `quiet_points` points score below the alarm level: one episode, one alarm."""
        surprise = self._surprise(timestamp, value, learn=True)
        return self._after_quiet_period(self._score(surprise, self._seen))

    def judge(self, timestamp: datetime, value: float) -> float:
        """The anomaly score this point would get from `update`, quiet periods aside, learning
        nothing from it."""
        return self._score(self._surprise(timestamp, value, learn=False), self._seen + 1)

    def learn(self, timestamp: datetime, value: float) -> None:
        """Learns this point as `update` would (judged or not), with no quiet period."""
        self._surprise(timestamp, value, learn=True)

    def baseline(self) -> tuple[float, float] | None:
        """The median and MAD of the recent values learned (None before any)."""
        history = self._values.history
        if not len(history):
            return None
        return history.median(), history.median_absolute_deviation()

    def _score(self, surprise: float, seen: int) -> float:
        return surprise_to_score(surprise) if seen > self.parameters.warmup_points else 0.0

    def _surprise(self, timestamp: datetime, value: float, *, learn: bool) -> float:
        recent = [*self._recent, value][-self.parameters.short_points :]
        floor = self._spread_floor(self._values.history)
        surprises = [
            self._level.observe(self._values.z(value, floor), learn=learn),
            self._shift.observe(self._values.z(sum(recent) / len(recent), floor), learn=learn),
        ]
        if self._previous is not None:
            change = value - self._previous
            surprises.append(self._jump.observe(self._changes.z(change, floor), learn=learn))
            if learn:
                self._changes.learn(change)
        surprises.extend(view.observe(timestamp, value, floor, learn=learn) for view in self._seasonal_views)
        long_floor = self._spread_floor(self._long_values.history)
        surprises.append(self._long_level.observe(self._long_values.z(value, long_floor), learn=learn))
        surprises.append(self._records.observe(value, learn=learn))
        if learn:
            self._recent.append(value)
            self._values.learn(value)
            self._long_values.learn(value)
            self._previous = value
            self._seen += 1
        return max(surprises)

    def _spread_floor(self, history: RollingOrder) -> float:
        """The smallest spread believed, relative to the history's level or range (a flat history
        must not turn a small wobble into an alarm)."""
        if not len(history):
            return 0.0
        scale = max(abs(history.median()), history.value_range())
        return max(self.parameters.relative_spread_floor * scale, MIN_SPREAD)

    def _after_quiet_period(self, score: float) -> float:
        if self._quiet_left > 0:
            self._quiet_left -= 1
            return min(score, QUIET_SCORE_CAP)
        if score >= ALARM_SCORE:
            self._quiet_left = self.parameters.quiet_points
        return score
