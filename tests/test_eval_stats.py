import time

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from eval.stats import (
    fisher_exact_p,
    mcnemar_exact_p,
    mean_interval,
    paired_bootstrap_diff,
    paired_mean_diff,
    paired_sample_size,
    percentiles,
    sample_size_line,
    unpaired_bootstrap_diff,
)


def _pairs(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


def test_paired_bootstrap_matches_the_binomial_error_of_the_discordant_items():
    # 100 items, a alone right on 10: the difference is 0.10 and each item's difference is 0/1 with
    # p=0.1, so the standard error is √(0.1·0.9/100) = 0.03 and the 95% interval is about 0.10 ± 0.06.
    a, b = _pairs(both=50, only_a=10, only_b=0, neither=40)
    interval = paired_bootstrap_diff(a, b)
    assert interval.estimate == pytest.approx(0.10)
    # The means of 100 zeros and ones lie on a 0.01 grid, so the bounds do too.
    assert 0.03 <= interval.low <= 0.06
    assert 0.14 <= interval.high <= 0.17


def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(11)
    cost_a, cost_b = rng.gamma(2.0, 0.001, size=300), rng.gamma(2.0, 0.0012, size=300)
    interval = paired_mean_diff(cost_a, cost_b, seed=5)
    assert paired_mean_diff(cost_a, cost_b, seed=5) == interval
    assert paired_mean_diff(cost_a, cost_b, seed=6) != interval
    assert interval.estimate == pytest.approx(float(np.mean(cost_a - cost_b)))


def test_paired_bootstrap_covers_the_true_difference_of_simulated_routes():
    rng = np.random.default_rng(7)
    hard = rng.random(1000)  # shared item difficulty makes the routes' errors correlated
    a, b = hard < 0.75, hard < 0.70
    interval = paired_bootstrap_diff(a.tolist(), b.tolist())
    assert interval.low < 0.05 < interval.high
    assert interval.low > 0  # pairing sees that a is never wrong where b is right


def test_bootstrap_of_ten_thousand_resamples_over_a_thousand_items_is_fast():
    rng = np.random.default_rng(0)
    a, b = rng.random(1000) < 0.7, rng.random(1000) < 0.6
    started = time.perf_counter()
    paired_bootstrap_diff(a, b, resamples=10_000)
    assert time.perf_counter() - started < 1.0


def test_mean_differences_and_single_means():
    latency_a = [120.0, 80.0, 200.0, 95.5]
    shifted = paired_mean_diff(latency_a, [value - 30.0 for value in latency_a])
    assert (shifted.estimate, shifted.low, shifted.high) == pytest.approx((30.0, 30.0, 30.0))
    # 200 right of 400: SE = √(0.25/400) = 0.025, interval about 0.5 ± 0.049.
    accuracy = mean_interval([1.0, 0.0] * 200)
    assert accuracy.estimate == 0.5
    assert accuracy.low == pytest.approx(0.451, abs=0.006)
    assert accuracy.high == pytest.approx(0.549, abs=0.006)


def test_paired_inputs_are_checked():
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap_diff([True, False], [True])
    with pytest.raises(ValueError, match="non-empty"):
        paired_mean_diff([], [])
    with pytest.raises(ValueError, match="NaN"):
        mean_interval([1.0, float("nan")])


@pytest.mark.parametrize(
    "table",
    [[[10, 5], [3, 20]], [[50, 0], [7, 43]], [[5, 12], [12, 5]], [[100, 1], [19, 80]], [[30, 0], [0, 10]]],
)
def test_mcnemar_matches_statsmodels_exact(table):
    (both, only_a), (only_b, neither) = table
    a, b = _pairs(both, only_a, only_b, neither)
    assert mcnemar_exact_p(a, b) == pytest.approx(mcnemar(np.array(table), exact=True).pvalue, rel=1e-12)


def test_mcnemar_without_discordant_pairs_is_one():
    assert mcnemar_exact_p([True, False, True], [True, False, True]) == 1.0


def test_percentiles_interpolate_like_numpy():
    # 1..100: p95 sits at index 99·0.95 = 94.05, between 95 and 96.
    assert percentiles([float(v) for v in range(1, 101)]) == pytest.approx(
        {"p50": 50.5, "p95": 95.05, "p99": 99.01}
    )
    assert set(percentiles([1.0], qs=(90, 99.9))) == {"p90", "p99.9"}


def test_sample_size_by_hand():
    # Connor: z=1.95996, z_0.8=0.84162; (1.95996·√0.25 + 0.84162·√(0.25−0.0009))² / 0.0009
    #       = (0.97998 + 0.42005)² / 0.0009 = 1.96009 / 0.0009 = 2177.9 → 2178.
    assert paired_sample_size(0.03, 0.25) == 2178
    assert paired_sample_size(0.03) == 2178  # the documented default ψ = 0.25
    assert paired_sample_size(0.03, 0.02) == 2178  # ψ below δ is impossible: default
    assert paired_sample_size(0.03, 0.10) < paired_sample_size(0.03, 0.25)
    with pytest.raises(ValueError):
        paired_sample_size(0.0)


def test_sample_size_equals_the_independent_design_when_errors_are_independent():
    # Independent errors make ψ = p1(1−p2) + p2(1−p1); McNemar then needs as many pairs as a
    # two-sample test needs items per group.
    p1, p2 = 0.73, 0.70
    independent = NormalIndPower().solve_power(proportion_effectsize(p1, p2), alpha=0.05, power=0.8)
    psi = p1 * (1 - p2) + p2 * (1 - p1)
    assert paired_sample_size(p1 - p2, psi) == pytest.approx(independent, rel=0.03)


def test_sample_size_gives_the_promised_power_in_simulation():
    delta, psi = 0.05, 0.20
    n = paired_sample_size(delta, psi)
    rng = np.random.default_rng(3)
    discordant = rng.binomial(n, psi, size=20_000)
    only_a = rng.binomial(discordant, (psi + delta) / (2 * psi))
    smaller = np.minimum(only_a, discordant - only_a)
    p_values = np.minimum(1.0, 2 * stats.binom.cdf(smaller, discordant, 0.5))
    # Connor's formula is asymptotic; the exact test is a little conservative (0.78 here), and 15% fewer
    # items would give 0.71.
    assert np.mean(p_values < 0.05) == pytest.approx(0.80, abs=0.03)


def test_sample_size_line_states_its_assumption():
    assumed = sample_size_line(200)
    assert assumed == (
        "To detect a 3-point difference at 80% power (α=0.05), about 2,178 paired items are needed "
        "(25% discordant pairs, assumed); this run has 200."
    )
    assert "seen in this run" in sample_size_line(1500, 0.05, 0.12)


def test_unpaired_arms_get_an_independent_bootstrap_and_fisher_p():
    # Arm a: 30/40 right; arm b: 12/40 right. Fisher's table [[30, 10], [12, 28]].
    a = [True] * 30 + [False] * 10
    b = [True] * 12 + [False] * 28
    interval = unpaired_bootstrap_diff(a, b, seed=3)
    assert interval.estimate == pytest.approx(0.45)
    assert interval.low < 0.45 < interval.high
    # Independent groups of 40: standard error ≈ sqrt(.75·.25/40 + .3·.7/40) ≈ 0.1, so the CI spans ≈ ±0.2.
    assert 0.3 < interval.high - interval.low < 0.5
    assert unpaired_bootstrap_diff(a, b, seed=3) == interval
    odds_p = fisher_exact_p(a, b)
    assert 1e-5 < odds_p < 1e-3  # hypergeometric tail computed by scipy: ≈ 1.2e-4
    assert fisher_exact_p(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        unpaired_bootstrap_diff([], b)
