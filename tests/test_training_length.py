"""molrg.training_length: the steps-per-N rule of the real-data GL grid."""
import pytest

from molrg.training_length import iterations_for_N


def test_iterations_constant_without_rule():
    # power 0 / no N_ref: the paper's protocol, the same length for every N
    assert [iterations_for_N(N, 3000) for N in (4, 64, 4096)] == [3000, 3000, 3000]
    assert [iterations_for_N(N, 3000, N_ref=16, power=0.0, min_iterations=10) for N in (4, 1024)] == [3000, 3000]


def test_iterations_rule_values_monotone_and_floor():
    steps = [iterations_for_N(N, 3200, N_ref=16, power=0.5, min_iterations=500) for N in (4, 16, 64, 256, 1024, 4096)]
    # N <= N_ref: full length; then 3200 * (16/N)^0.5 = 1600, 800; then the floor 500
    assert steps == [3200, 3200, 1600, 800, 500, 500]
    assert all(a >= b for a, b in zip(steps, steps[1:]))
    assert iterations_for_N(64, 3200, N_ref=16, power=1.0) == 3200  # no floor given: the floor is the full length


@pytest.mark.parametrize("kwargs", [dict(power=-1.0, N_ref=4), dict(N_ref=4, power=1.0, min_iterations=0),
                                    dict(N_ref=4, power=1.0, min_iterations=5000)])
def test_iterations_rule_bad_settings(kwargs):
    with pytest.raises(ValueError, match="realdata"):
        iterations_for_N(64, 3000, **kwargs)
