"""Intervals and verdicts: a run is called better only when the 95 % intervals separate."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from animegan_tf import compare


def score_test_bounds(count, n, z=compare.Z95):
    """The Wilson interval by its definition: the rates p that a score test at z does not reject."""
    rate = count / n
    def f(p):
        return abs(rate - p) - z * math.sqrt(p * (1 - p) / n)
    lo = 0.0 if count == 0 else brentq(f, 1e-12, min(rate, 1 - 1e-9))
    hi = 1.0 if count == n else brentq(f, max(rate, 1e-9), 1 - 1e-12)
    return 100 * lo, 100 * hi


@pytest.mark.parametrize("count,n", [(5, 20), (0, 20), (20, 20), (1, 1000), (250, 1000), (999, 1000)])
def test_wilson_is_the_inverted_score_test(count, n):
    assert compare.wilson(count, n) == pytest.approx(score_test_bounds(count, n), abs=1e-6)


def test_wilson_covers_the_true_rate_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    counts = rng.binomial(20, 0.25, size=4000)
    inside = [lo <= 25 <= hi for lo, hi in (compare.wilson(int(c), 20) for c in counts)]
    assert 0.92 <= np.mean(inside) <= 0.99


def test_wilson_rejects_impossible_counts():
    for count, n in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ValueError):
            compare.wilson(count, n)


def result(kid, kid_std, gq, dq, pq):
    n = gq + dq + pq
    return {"n": n, "kid": kid, "kid_std": kid_std, "GQ": gq, "DQ": dq, "PQ": pq,
            "gq_pct": 100 * gq / n, "dq_pct": 100 * dq / n, "pq_pct": 100 * pq / n}


def test_better_only_when_the_intervals_separate():
    a, b = result(0.20, 0.005, 300, 500, 200), result(0.25, 0.005, 100, 500, 400)
    assert compare.better(a, b, "kid") == "a" and compare.better(b, a, "kid") == "b"
    assert compare.better(a, b, "gq") == "a"  # higher GQ is better
    assert compare.better(a, b, "pq") == "a"  # lower PQ is better
    assert compare.better(a, b, "dq") is None  # the same DQ
    close = result(0.21, 0.005, 290, 510, 200)  # 0.20 ± 0.0098 and 0.21 ± 0.0098 overlap
    assert compare.better(a, close, "kid") is None
    assert "no measurable difference" in compare.verdict("A", a, "B", close)
    assert compare.verdict("A", a, "B", b).startswith("KID: A is better than B")


def test_twenty_samples_rarely_separate_what_a_thousand_do():
    few_a, few_b = result(0.2, 0.01, 5, 10, 5), result(0.2, 0.01, 2, 10, 8)  # 25 % vs 10 % GQ of 20
    many_a, many_b = result(0.2, 0.01, 250, 500, 250), result(0.2, 0.01, 100, 500, 400)
    assert compare.better(few_a, few_b, "gq") is None
    assert compare.better(many_a, many_b, "gq") == "a"


def test_claims_and_best_of():
    results = {"lr2e-4": result(0.20, 0.004, 300, 500, 200), "lr1e-4": result(0.30, 0.004, 50, 500, 450),
               "lr3e-4": result(0.203, 0.004, 290, 510, 200)}
    rows = [compare.check_claim("2e-4 beats 1e-4", "lr2e-4", "lr1e-4", results),
            compare.check_claim("1e-4 beats 2e-4", "lr1e-4", "lr2e-4", results),
            compare.check_claim("2e-4 beats 3e-4", "lr2e-4", "lr3e-4", results)]
    assert [r["status"] for r in rows] == ["confirmed", "contradicted", compare.NO_DIFFERENCE]
    assert "0.2000" in rows[0]["measured"] and "0.3000" in rows[0]["measured"]
    assert compare.best_of(results) == ("lr2e-4", ["lr3e-4"])
    assert compare.best_of(results, "gq")[0] == "lr2e-4"


def test_best_of_several_and_no_gain():
    results = {"fig5": result(0.2, 0.004, 300, 500, 200), "fig1": result(0.3, 0.004, 100, 500, 400),
               "fig2": result(0.31, 0.004, 120, 480, 400)}
    assert compare.check_best("fig5 best", "fig5", results, "gq")["status"] == "confirmed"
    assert compare.check_best("fig1 best", "fig1", results, "gq")["status"] == "contradicted"
    assert compare.check_best("fig2 best", "fig2", {k: results[k] for k in ("fig1", "fig2")},
                              "gq")["status"] == compare.NO_DIFFERENCE
    assert compare.check_no_gain("flip does not help", "fig1", "fig5", results)["status"] == "confirmed"
    assert compare.check_no_gain("flip does not help", "fig5", "fig1", results)["status"] == "contradicted"
