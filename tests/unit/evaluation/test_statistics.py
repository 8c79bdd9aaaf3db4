"""The evaluation's statistics against published worked examples and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from streams.evaluation.statistics import (
    Z_95,
    difference_in_differences,
    duration_band,
    kaplan_meier,
    log_rank,
    proportion,
    rate_ratio_per,
    relative_effect_size,
    spearman,
    weighted_displacement_difference,
    weighted_displacement_quotient,
)


def test_wdq_of_the_pop_center_guide_is_minus_one_when_the_buffer_rises():
    # Guerette (2009), POP Center tool guide 10: target 100 -> 50, buffer 100 -> 150,
    # control 100 -> 100.
    result = weighted_displacement_quotient(ra=50, rb=100, da=150, db=100, ca=100, cb=100)
    assert result.sm == pytest.approx(-0.5)
    assert result.bdm == pytest.approx(0.5)
    assert result.wdq == pytest.approx(-1.0)


def test_wdq_of_the_pop_center_guide_is_a_half_when_the_buffer_falls():
    result = weighted_displacement_quotient(ra=50, rb=100, da=75, db=100, ca=100, cb=100)
    assert result.bdm == pytest.approx(-0.25)
    assert result.wdq == pytest.approx(0.5)


def test_wdq_is_not_reported_without_a_success():
    result = weighted_displacement_quotient(ra=120, rb=100, da=150, db=100, ca=100, cb=100)
    assert result.sm == pytest.approx(0.2)
    assert result.wdq is None
    assert result.reason is not None
    assert "SM >= 0" in result.reason


def test_wdq_without_control_crime_says_why_instead_of_dividing_by_zero():
    result = weighted_displacement_quotient(ra=5, rb=10, da=3, db=2, ca=0, cb=4)
    assert (result.sm, result.bdm, result.wdq) == (None, None, None)
    assert result.reason == "no control crime in a period"


def test_wdd_matches_wheeler_and_ratcliffe_2018_worked_example():
    # Wheeler & Ratcliffe (2018), Crime Science 7:11: treated 207 -> 110, control 308 -> 318,
    # treated displacement 178 -> 157, control displacement 150 -> 140 give WDD -118,
    # SE sqrt(1568), z -2.98 and the 95 % interval (-196, -40).
    result = weighted_displacement_difference(
        r0=207, r1=110, c0=308, c1=318, d0=178, d1=157, cd0=150, cd1=140
    )
    assert result.value == -118
    assert result.se == pytest.approx(math.sqrt(1568))
    assert result.z is not None
    assert round(result.z, 2) == -2.98
    assert result.ci_low is not None
    assert round(result.ci_low) == -196
    assert result.ci_high is not None
    assert round(result.ci_high) == -40


def test_did_on_counts_has_the_poisson_standard_error_of_the_four_counts():
    result = difference_in_differences(t0=100, t1=70, c0=90, c1=94)
    assert result.value == -34
    assert result.se == pytest.approx(math.sqrt(354))
    assert result.z == pytest.approx(-34 / math.sqrt(354))
    assert result.ci_low == pytest.approx(-34 - Z_95 * math.sqrt(354))


def test_did_of_nothing_has_no_standard_error():
    result = difference_in_differences(0, 0, 0, 0)
    assert result.value == 0
    assert result.se is None
    assert result.z is None
    assert result.reason == "every count is zero"


def test_res_matches_a_hand_computation():
    # T0 = 100, T1 = 70, C0 = 90, C1 = 94: RES = (100 * 94) / (70 * 90) = 1.49206...
    # Var(ln RES) = 0.01 + 0.0142857 + 0.0111111 + 0.0106383 = 0.0460351; SE = 0.214558
    # interval = exp(0.400162 -+ 1.959964 * 0.214558) = exp(-0.020363), exp(0.820687)
    #          = (0.97984, 2.27206)
    result = relative_effect_size(t0=100, t1=70, c0=90, c1=94)
    assert result.res == pytest.approx(1.492063, rel=1e-6)
    assert result.log_se == pytest.approx(0.214558, rel=1e-5)
    assert result.ci_low == pytest.approx(0.97984, rel=1e-4)
    assert result.ci_high == pytest.approx(2.27206, rel=1e-4)


def test_res_above_one_with_an_interval_excluding_one_for_a_clear_fall():
    result = relative_effect_size(t0=200, t1=100, c0=200, c1=200)
    assert result.res == pytest.approx(2.0)
    assert result.ci_low is not None
    assert result.ci_low > 1


@pytest.mark.parametrize("counts", [(0, 5, 5, 5), (5, 0, 5, 5), (5, 5, 0, 5), (5, 5, 5, 0)])
def test_res_with_a_zero_count_is_undefined_with_a_reason(counts):
    result = relative_effect_size(*counts)
    assert result.res is None
    assert result.ci_low is None
    assert result.reason == "a count is zero: RES is undefined"


@pytest.mark.parametrize(
    ("minutes", "band"),
    [(0, "0-2"), (1.99, "0-2"), (2, "2-5"), (9.5, "5-10"), (10, "10-15"), (19, "15-20"),
     (20, ">20"), (600, ">20")],
)  # fmt: skip
def test_duration_bands_include_their_lower_bound(minutes, band):
    assert duration_band(minutes) == band


def test_kaplan_meier_matches_a_hand_computation():
    # times 1 2 2+ 3 5+ 8 (+ censored): S(1) = 5/6, S(2) = 5/6 * 4/5 = 2/3 (the censored 2 is
    # still at risk at 2), S(3) = 2/3 * 2/3 = 4/9, S(8) = 0.
    # Greenwood at 1: S^2 * 1/(6*5) -> se = (5/6) * sqrt(1/30).
    curve = kaplan_meier([1, 2, 2, 3, 5, 8], [True, True, False, True, False, True])
    assert curve is not None
    assert curve.at(0.5)[0] == 1.0
    assert curve.at(1)[0] == pytest.approx(5 / 6)
    assert curve.at(2.5)[0] == pytest.approx(2 / 3)
    assert curve.at(4)[0] == pytest.approx(4 / 9)
    assert curve.at(7)[0] == pytest.approx(4 / 9)
    assert curve.at(8)[0] == 0.0
    assert curve.se[0] == pytest.approx((5 / 6) * math.sqrt(1 / 30))
    survival, low, high = curve.at(1)
    assert low is not None
    assert high is not None
    assert low < survival < high


def test_kaplan_meier_of_no_visit_is_none():
    assert kaplan_meier([], []) is None


def test_spearman_of_a_monotone_relation_is_one():
    result = spearman([1, 2, 3, 4, 5], [2, 4, 9, 16, 30])
    assert result.rho == pytest.approx(1.0)
    assert result.n == 5


def test_spearman_of_a_constant_side_is_undefined_with_a_reason():
    result = spearman([1, 2, 3, 4], [0, 0, 0, 0])
    assert result.rho is None
    assert result.reason == "a side is constant"
    assert spearman([1, 2], [3, 4]).reason == "fewer than 3 pairs"


def test_proportion_has_a_wilson_interval_and_none_for_an_empty_whole():
    # Wilson interval of 8/10: centre (0.8 + z^2/20) / (1 + z^2/10), the standard textbook value
    # (0.490, 0.943).
    result = proportion(8, 10)
    assert result.share == 0.8
    assert result.ci_low == pytest.approx(0.4902, abs=1e-4)
    assert result.ci_high == pytest.approx(0.9433, abs=1e-4)
    assert proportion(0, 0).share is None


def simulated_area_days(seed: int, irr_per_10: float, over_dispersed: bool) -> pd.DataFrame:
    """40 areas x 30 days of crimes whose rate falls by ``irr_per_10`` per 10 patrol-minutes,
    each area with its own base rate."""
    rng = np.random.default_rng(seed)
    area = np.repeat(np.arange(40), 30)
    base = rng.normal(0.5, 0.5, 40)[area]
    minutes = rng.uniform(0, 120, area.size)
    mean = np.exp(base + math.log(irr_per_10) / 10 * minutes)
    if over_dispersed:
        size = 1.5
        crimes = rng.negative_binomial(size, size / (size + mean))
    else:
        crimes = rng.poisson(mean)
    return pd.DataFrame({"area_id": area.astype(str), "patrol_minutes": minutes, "crimes": crimes})


def test_poisson_fixed_effects_recover_a_planted_rate_ratio():
    frame = simulated_area_days(seed=23, irr_per_10=0.9, over_dispersed=False)
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.model == "poisson"
    assert result.irr == pytest.approx(0.9, abs=0.02)
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.ci_low < 0.9 < result.ci_high
    assert (result.observations, result.groups, result.groups_dropped) == (1200, 40, 0)


def test_over_dispersed_counts_are_fitted_by_a_negative_binomial():
    frame = simulated_area_days(seed=23, irr_per_10=0.9, over_dispersed=True)
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.model == "negative_binomial"
    assert result.dispersion is not None
    assert result.dispersion > 1
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.ci_low < 0.9 < result.ci_high


def test_areas_without_a_crime_are_dropped_and_counted():
    frame = simulated_area_days(seed=5, irr_per_10=0.9, over_dispersed=False)
    frame.loc[frame["area_id"].isin(["0", "1"]), "crimes"] = 0
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.groups_dropped == 2
    assert result.groups == 38


def test_no_crime_at_all_gives_no_rate_ratio_and_says_why():
    frame = pd.DataFrame({"area_id": ["a", "b"], "patrol_minutes": [1.0, 2.0], "crimes": [0, 0]})
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.irr is None
    assert result.reason == "no event in any group"


def test_log_rank_of_two_identical_groups_finds_no_difference():
    times = [1, 2, 3, 4, 1, 2, 3, 4]
    events = [True, False, True, True] * 2
    chi2, p_value, reason = log_rank(times, events, ["a"] * 4 + ["b"] * 4)
    assert chi2 == pytest.approx(0.0)
    assert p_value == pytest.approx(1.0)
    assert reason is None


def test_log_rank_matches_a_hand_computation():
    # group a: events at 1 and 2; group b: events at 3 and 4 (no censoring).
    # t=1: n=4 (a 2), d=1: E_a = 1/2, V = 1*(2/4)*(2/4)*(3/3) = 1/4
    # t=2: n=3 (a 1), d=1: E_a = 1/3, V = (1/3)*(2/3) = 2/9
    # t=3: n=2 (a 0): E_a = 0, V = 0; t=4: n=1 (a 0): E_a = 0, V = 0
    # O_a - E_a = 2 - 5/6 = 7/6; chi2 = (7/6)^2 / (1/4 + 2/9) = 2.8824
    chi2, p_value, _ = log_rank([1, 2, 3, 4], [True] * 4, ["a", "a", "b", "b"])
    assert chi2 == pytest.approx((7 / 6) ** 2 / (1 / 4 + 2 / 9))
    assert p_value == pytest.approx(0.0895, abs=1e-3)


def test_log_rank_needs_two_groups_and_an_event():
    assert log_rank([1, 2], [True, True], ["a", "a"])[2] == "fewer than two groups"
    assert log_rank([1, 2], [False, False], ["a", "b"])[2] == "no event"


def test_a_dose_that_never_varies_gives_no_rate_ratio_and_says_why():
    frame = pd.DataFrame(
        {"area_id": ["a", "a", "b", "b"], "patrol_minutes": [5.0] * 4, "crimes": [1, 0, 2, 1]}
    )
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.irr is None
    assert result.reason == "the dose does not vary"


def test_a_dose_that_separates_days_with_and_without_crime_gives_no_rate_ratio_and_says_why():
    frame = pd.DataFrame(
        {
            "area_id": ["a", "a", "a", "b", "b", "b"],
            "patrol_minutes": [0.0, 0.0, 600.0, 0.0, 0.0, 600.0],
            "crimes": [0, 0, 40, 0, 0, 35],
        }
    )
    result = rate_ratio_per(frame, "crimes", "patrol_minutes", "area_id")
    assert result.irr is None
    assert result.reason is not None
