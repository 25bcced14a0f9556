import pytest

from aiops_detector.detection.log_surge import judge


def test_a_service_failing_every_request_surges_and_its_usual_trickle_does_not() -> None:
    usual = [1, 2, 0, 1, 3, 1, 2] * 8
    assert judge(150, 60, usual).surging
    assert not judge(3, 60, usual).surging
    surge = judge(150, 60, usual)
    assert (surge.per_min, surge.usual_per_min) == (150, 1)


@pytest.mark.parametrize(
    ("errors", "usual", "surging"),
    [
        (9, [0] * 60, False),  # fewer than 10 records is never a surge
        (10, [0] * 60, True),  # 10 where there were none is
        (25, [10] * 60, False),  # under 3 times the usual
        (40, [10] * 60, True),
        (12, [], True),  # no history: judged against the floor alone
    ],
)
def test_a_surge_needs_enough_errors_beyond_the_usual(errors: int, usual: list[int], surging: bool) -> None:
    assert judge(errors, 60, usual).surging is surging


def test_the_usual_is_a_median_one_bad_minute_does_not_move() -> None:
    usual = [2] * 59 + [500]
    assert judge(30, 60, usual).surging
