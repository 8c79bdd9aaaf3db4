"""The statistics of the evaluation: pure functions over counts and frames.

Every estimator comes from a library where one exists (statsmodels for the count regressions,
the Kaplan-Meier estimator and proportion intervals, scipy for Spearman's rho and the normal
quantiles); what is left here is the arithmetic of the published formulas. A result that cannot
be computed (a zero count under a ratio, a constant series, too few observations) comes back as
``None`` with a ``reason``, never as a silent division by zero.

References: Farrington, D. P. (1997) and Welsh, B. C. & Farrington, D. P. (2009) for the
relative effect size; Bowers, K. J. & Johnson, S. D. (2003) for the weighted displacement
quotient; Wheeler, A. P. & Ratcliffe, J. H. (2018) for the weighted displacement difference;
Koper, C. S. (1995) for residual deterrence; Cameron, A. C. & Trivedi, P. K. (1990) for the
over-dispersion test.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.discrete.diagnostic import PoissonDiagnostic
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.proportion import proportion_confint

FloatArray = npt.NDArray[np.float64]
CONFIDENCE = 0.95
Z_95 = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
"""1.959964...: the two-sided 95 % normal quantile."""

DURATION_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-2", 0.0, 2.0),
    ("2-5", 2.0, 5.0),
    ("5-10", 5.0, 10.0),
    ("10-15", 10.0, 15.0),
    ("15-20", 15.0, 20.0),
    (">20", 20.0, math.inf),
)
"""Visit-duration bands in minutes (lower bound included, upper excluded), after Koper (1995)."""

DISPERSION_TEST = "CT nb2"
"""Cameron & Trivedi's regression test against the NB2 alternative, as statsmodels names it."""

DISPERSION_ALPHA = 0.05
"""Over-dispersion is taken as shown when the test's statistic is positive with p below this."""


@dataclass(frozen=True)
class CountDifference:
    """A difference of Poisson counts with its standard error (the square root of the sum of the
    counts), z and 95 % interval; ``reason`` says why a missing part is missing."""

    value: float
    se: float | None
    z: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None


@dataclass(frozen=True)
class RelativeEffect:
    """Farrington's relative effect size with its 95 % interval (None with a reason when a count
    is zero)."""

    res: float | None
    ci_low: float | None
    ci_high: float | None
    log_se: float | None
    reason: str | None = None


@dataclass(frozen=True)
class DisplacementQuotient:
    """Bowers & Johnson's success measure, buffer displacement measure and WDQ."""

    sm: float | None
    bdm: float | None
    wdq: float | None
    reason: str | None = None


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho over ``n`` pairs with its p-value."""

    rho: float | None
    p_value: float | None
    n: int
    reason: str | None = None


@dataclass(frozen=True)
class Proportion:
    """A share with its Wilson 95 % interval."""

    share: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None


@dataclass(frozen=True)
class RateRatio:
    """The incidence-rate ratio of a count regression per ``per`` units of the dose."""

    model: str
    irr: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    dispersion: float | None
    """Pearson chi-squared over residual degrees of freedom of the Poisson fit."""
    dispersion_p: float | None
    """The over-dispersion test's p-value (see :data:`DISPERSION_TEST`)."""
    observations: int
    groups: int
    groups_dropped: int
    """Groups without a single event: their fixed effect has no finite estimate, so they are left
    out (under Poisson fixed effects they carry no information about the dose)."""
    reason: str | None = None
    note: str | None = None
    """The fitting library's warnings (such as a convergence warning), if it gave any."""


def _poisson_difference(value: float, counts: Sequence[float]) -> CountDifference:
    """``value`` with the Poisson standard error sqrt(sum of the counts)."""
    variance = float(sum(counts))
    if variance <= 0:
        return CountDifference(value, None, None, None, None, "every count is zero")
    se = math.sqrt(variance)
    return CountDifference(value, se, value / se, value - Z_95 * se, value + Z_95 * se)


def difference_in_differences(t0: int, t1: int, c0: int, c1: int) -> CountDifference:
    """(T1 - T0) - (C1 - C0) on counts (T treated, C comparison, 0 before, 1 after), with
    variance T0 + T1 + C0 + C1 (independent Poisson counts)."""
    return _poisson_difference(float((t1 - t0) - (c1 - c0)), (t0, t1, c0, c1))


def relative_effect_size(t0: int, t1: int, c0: int, c1: int) -> RelativeEffect:
    """Farrington's RES = (T0 * C1) / (T1 * C0), Var(ln RES) = 1/T0 + 1/T1 + 1/C0 + 1/C1, and
    the interval exp(ln RES +- 1.96 sqrt(Var)). RES > 1 means crime fell in the treated areas
    relative to the comparison areas."""
    if min(t0, t1, c0, c1) <= 0:
        return RelativeEffect(None, None, None, None, "a count is zero: RES is undefined")
    res = (t0 * c1) / (t1 * c0)
    log_se = math.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    low, high = (math.exp(math.log(res) + sign * Z_95 * log_se) for sign in (-1, 1))
    return RelativeEffect(res, low, high, log_se)


def weighted_displacement_quotient(
    ra: int, rb: int, da: int, db: int, ca: int, cb: int
) -> DisplacementQuotient:
    """SM = Ra/Ca - Rb/Cb, BDM = Da/Ca - Db/Cb, WDQ = BDM/SM, reported only when SM < 0 (the
    response area improved relative to the control). ``a`` after, ``b`` before; R response, D
    buffer (displacement), C control."""
    if ca <= 0 or cb <= 0:
        return DisplacementQuotient(None, None, None, "no control crime in a period")
    success = ra / ca - rb / cb
    buffer = da / ca - db / cb
    if success >= 0:
        return DisplacementQuotient(
            success, buffer, None, "SM >= 0: no success to weigh displacement against"
        )
    return DisplacementQuotient(success, buffer, buffer / success)


def weighted_displacement_difference(
    r0: int, r1: int, c0: int, c1: int, d0: int, d1: int, cd0: int, cd1: int
) -> CountDifference:
    """WDD = (R1 - R0) - (C1 - C0) + (D1 - D0) - (CD1 - CD0), variance the sum of the eight
    counts (R treated, C its control, D the treated areas' displacement areas, CD the control
    areas' displacement areas; 0 before, 1 after). Negative = crime fell, net of displacement."""
    value = float((r1 - r0) - (c1 - c0) + (d1 - d0) - (cd1 - cd0))
    return _poisson_difference(value, (r0, r1, c0, c1, d0, d1, cd0, cd1))


def duration_band(minutes: float) -> str:
    """The band of a visit lasting ``minutes`` (see :data:`DURATION_BANDS`)."""
    for name, low, high in DURATION_BANDS:
        if low <= minutes < high:
            return name
    raise ValueError(f"a visit cannot last {minutes} minutes")


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan-Meier curve: the step function at the event times."""

    times: FloatArray
    survival: FloatArray
    se: FloatArray
    subjects: int

    def at(self, t: float) -> tuple[float, float | None, float | None]:
        """S(t) and its pointwise 95 % interval (log(-log) transform of Greenwood's standard
        error; None where S is 0 or 1)."""
        index = int(np.searchsorted(self.times, t, side="right")) - 1
        if index < 0:
            return 1.0, None, None
        survival, se = float(self.survival[index]), float(self.se[index])
        if not 0 < survival < 1 or not math.isfinite(se):
            return survival, None, None
        spread = Z_95 * se / (survival * abs(math.log(survival)))
        return survival, survival ** math.exp(spread), survival ** math.exp(-spread)


def kaplan_meier(times: Sequence[float], events: Sequence[bool]) -> SurvivalCurve | None:
    """The Kaplan-Meier estimate (statsmodels ``SurvfuncRight``) of right-censored ``times``
    (``events`` True = the event happened at that time, False = censored). None for no subject."""
    if len(times) == 0:
        return None
    fitted = SurvfuncRight(np.asarray(times, float), np.asarray(events, int))
    return SurvivalCurve(
        np.asarray(fitted.surv_times),
        np.asarray(fitted.surv_prob),
        np.asarray(fitted.surv_prob_se),
        len(times),
    )


def log_rank(
    times: Sequence[float], events: Sequence[bool], groups: Sequence[str]
) -> tuple[float | None, float | None, str | None]:
    """The log-rank test (statsmodels ``survdiff``) that the groups' survival curves are the
    same: chi-squared, p-value, and why they are None (fewer than two groups, or no event)."""
    if len(set(groups)) < 2:
        return None, None, "fewer than two groups"
    if not any(events):
        return None, None, "no event"
    chi2, p_value = survdiff(np.asarray(times, float), np.asarray(events, int), np.asarray(groups))
    return float(chi2), float(p_value), None


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Spearman's rank correlation (scipy) of paired values; None when fewer than 3 pairs or a
    side is constant (rho is undefined)."""
    n = len(x)
    if n < 3:
        return Correlation(None, None, n, "fewer than 3 pairs")
    if len(set(x)) < 2 or len(set(y)) < 2:
        return Correlation(None, None, n, "a side is constant")
    result = stats.spearmanr(x, y)
    return Correlation(float(result.statistic), float(result.pvalue), n)


def proportion(part: int, whole: int) -> Proportion:
    """part / whole with Wilson's 95 % interval (statsmodels); None when whole is 0."""
    if whole <= 0:
        return Proportion(None, None, None, "nothing to take a share of")
    low, high = proportion_confint(part, whole, alpha=1 - CONFIDENCE, method="wilson")
    return Proportion(part / whole, float(low), float(high))


MAX_LOG_RATIO = 50.0
"""A fitted |log ratio| (or interval end) beyond this (a ratio past e^50) is not an estimate but
a fit that did not identify the dose (a separated or degenerate fit): no ratio is reported, and a
larger one would overflow ``math.exp``."""


def rate_ratio_per(
    frame: pd.DataFrame, outcome: str, dose: str, group: str, per: float = 10.0
) -> RateRatio:
    """Incidence-rate ratio of ``outcome`` per ``per`` units of ``dose`` from a count regression
    with ``group`` fixed effects: a Poisson GLM, or a negative binomial (NB2, dispersion by
    maximum likelihood) when the Poisson fit shows over-dispersion (Cameron & Trivedi's test,
    statistic > 0 with p < 0.05). Groups with no event at all are dropped first."""
    events_by_group = frame.groupby(group)[outcome].transform("sum")
    used = frame.loc[events_by_group > 0, [outcome, dose, group]].rename(
        columns={outcome: "y", dose: "x", group: "g"}
    )
    groups = int(frame[group].nunique())
    kept = int(used["g"].nunique())
    empty = RateRatio("poisson", None, None, None, None, None, None, len(used), kept, groups - kept)
    if kept == 0 or used["y"].sum() == 0:
        return _with_reason(empty, "no event in any group")
    if used["x"].nunique() < 2:
        return _with_reason(empty, "the dose does not vary")
    formula = "y ~ x + C(g)" if kept > 1 else "y ~ x"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        poisson = smf.glm(formula, used, family=sm.families.Poisson()).fit()
        dispersion = float(poisson.pearson_chi2 / poisson.df_resid) if poisson.df_resid else None
        statistic, p_value = _dispersion_test(poisson)
        fitted, model = poisson, "poisson"
        if statistic is not None and statistic > 0 and p_value < DISPERSION_ALPHA:
            fitted = smf.negativebinomial(formula, used).fit(disp=0, maxiter=200)
            model = "negative_binomial"
    beta, (low, high) = float(fitted.params["x"]), fitted.conf_int(1 - CONFIDENCE).loc["x"]
    if not all(math.isfinite(v) and abs(per * v) < MAX_LOG_RATIO for v in (beta, low, high)):
        return _with_reason(
            empty,
            "the fit gives no finite ratio (too few days, or a dose that "
            "separates days with and without events)",
        )
    note = "; ".join(sorted({str(w.message).splitlines()[0] for w in caught})) or None
    return RateRatio(
        model,
        math.exp(per * beta),
        math.exp(per * float(low)),
        math.exp(per * float(high)),
        float(fitted.pvalues["x"]),
        dispersion,
        p_value if math.isfinite(p_value) else None,
        len(used),
        kept,
        groups - kept,
        note=note,
    )


def _dispersion_test(poisson: object) -> tuple[float | None, float]:
    """The over-dispersion test's statistic and p-value on a fitted Poisson GLM (statistic None
    when the test cannot be computed, as on a perfect fit)."""
    result = PoissonDiagnostic(poisson).test_dispersion()
    index = list(result.method).index(DISPERSION_TEST)
    statistic, p_value = float(result.statistic[index]), float(result.pvalue[index])
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return None, math.nan
    return statistic, p_value


def _with_reason(ratio: RateRatio, reason: str) -> RateRatio:
    """``ratio`` with ``reason`` set."""
    return replace(ratio, reason=reason)
