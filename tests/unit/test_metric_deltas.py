from aiops_detector.writer.deltas import Cumulative, Delta, Skipped, delta_of

S = 1_000_000_000


def counter(start: int, time: int, value: float) -> Cumulative:
    return Cumulative(start_ns=start * S, time_ns=time * S, value=value)


def test_the_first_point_counts_from_its_start() -> None:
    assert delta_of(counter(100, 160, 42), None) == Delta(100 * S, 160 * S, 42, None, None, None)


def test_a_later_point_counts_the_difference_since_the_one_before() -> None:
    delta = delta_of(counter(100, 170, 50), counter(100, 160, 42))
    assert isinstance(delta, Delta)
    assert (delta.start_ns, delta.time_ns, delta.value) == (160 * S, 170 * S, 8)


def test_a_new_start_time_is_a_restart_counted_whole() -> None:
    delta = delta_of(counter(165, 170, 3), counter(100, 160, 42))
    assert isinstance(delta, Delta)
    assert (delta.start_ns, delta.value) == (165 * S, 3)


def test_a_value_that_went_down_is_a_reset_the_sender_did_not_signal() -> None:
    delta = delta_of(counter(0, 170, 3), counter(0, 160, 42))
    assert isinstance(delta, Delta)
    assert (delta.start_ns, delta.value) == (160 * S, 3)


def test_repeated_and_late_points_add_nothing() -> None:
    previous = counter(100, 160, 42)
    assert delta_of(counter(100, 160, 42), previous) is Skipped.SUPERSEDED
    assert delta_of(counter(100, 150, 40), previous) is Skipped.SUPERSEDED
    assert delta_of(counter(50, 170, 99), previous) is Skipped.SUPERSEDED


def test_without_a_start_time_the_first_point_is_only_a_reference() -> None:
    assert delta_of(counter(0, 160, 42), None) is Skipped.NO_REFERENCE
    delta = delta_of(counter(0, 170, 45), counter(0, 160, 42))
    assert isinstance(delta, Delta)
    assert delta.value == 3


def test_histograms_subtract_count_sum_and_every_bucket() -> None:
    before = Cumulative(100 * S, 160 * S, count=6, sum=3.0, buckets=(1, 2, 3), bounds=(0.1, 0.5))
    after = Cumulative(100 * S, 170 * S, count=10, sum=5.5, buckets=(2, 3, 5), bounds=(0.1, 0.5))
    assert delta_of(after, before) == Delta(160 * S, 170 * S, None, 4, 2.5, (1, 1, 2))


def test_histogram_buckets_that_changed_shape_or_went_down_count_whole() -> None:
    before = Cumulative(100 * S, 160 * S, count=6, sum=3.0, buckets=(1, 2, 3), bounds=(0.1, 0.5))
    rebucketed = Cumulative(100 * S, 170 * S, count=7, sum=4.0, buckets=(7, 0), bounds=(1.0,))
    assert delta_of(rebucketed, before) == Delta(160 * S, 170 * S, None, 7, 4.0, (7, 0))
    fewer = Cumulative(100 * S, 170 * S, count=7, sum=4.0, buckets=(0, 2, 5), bounds=(0.1, 0.5))
    assert delta_of(fewer, before) == Delta(160 * S, 170 * S, None, 7, 4.0, (0, 2, 5))
