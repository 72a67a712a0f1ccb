"""Conclusions with their uncertainty: 95 % intervals for KID and the judge's GQ/DQ/PQ rates, and verdicts that
call one run better than another only when the intervals separate.

Pure arithmetic on evaluation dicts (`evaluate.evaluate_images` results: n, kid, kid_std, GQ/DQ/PQ counts); no
TensorFlow.

- GQ/DQ/PQ rates: Wilson score intervals for a binomial proportion (good where the rate is near 0 or 100 %, and
  for 20 samples, where the normal approximation is not).
- KID: kid ± 1.96 × kid_std, the std over random subsets of half the samples against as many reference images. A
  subset of half the samples spreads more than the full-sample estimate does, so the interval is on the wide
  (cautious) side.
"""

from __future__ import annotations

import math

Z95 = 1.959964  # two-sided 95 % normal quantile
NO_DIFFERENCE = "no measurable difference at this budget"

# metric -> (label, which way is better)
METRICS = {"kid": ("KID", "lower"), "gq": ("GQ", "higher"), "dq": ("DQ", "higher"), "pq": ("PQ", "lower")}


def wilson(count: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of the rate count/n, in percent."""
    if n <= 0 or not 0 <= count <= n:
        raise ValueError(f"need 0 <= count <= n and n > 0, got {count}/{n}")
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def interval(result: dict, metric: str) -> tuple[float, float]:
    """95 % interval of one metric ("kid", "gq", "dq" or "pq") of an evaluation."""
    if metric == "kid":
        half = Z95 * result["kid_std"]
        return result["kid"] - half, result["kid"] + half
    if metric in ("gq", "dq", "pq"):
        return wilson(int(result[metric.upper()]), int(result["n"]))
    raise ValueError(f"unknown metric {metric!r}; one of {sorted(METRICS)}")


def judge_version(result: dict) -> int:
    """The judge version that made an evaluation's GQ/DQ/PQ (rows written before versions were recorded: 1)."""
    return int(result.get("judge", 1))


def comparable(a: dict, b: dict, metric: str) -> bool:
    """KID compares across judge versions; GQ/DQ/PQ only between rows of the same judge version."""
    return metric == "kid" or judge_version(a) == judge_version(b)


def _not_comparable(a: dict, b: dict) -> str:
    return f"not comparable: judge v{judge_version(a)} vs v{judge_version(b)}"


def value(result: dict, metric: str) -> float:
    return result["kid"] if metric == "kid" else result[f"{metric}_pct"]


def better(a: dict, b: dict, metric: str = "kid") -> str | None:
    """"a" or "b" when that evaluation is better on `metric` and the two 95 % intervals do not overlap, else None.

    Raises ValueError for GQ/DQ/PQ rates made by different judge versions (they measure different things)."""
    if not comparable(a, b, metric):
        raise ValueError(f"{METRICS[metric][0]}: {_not_comparable(a, b)}")
    (a_lo, a_hi), (b_lo, b_hi) = interval(a, metric), interval(b, metric)
    if a_hi < b_lo:
        low, high = "a", "b"
    elif b_hi < a_lo:
        low, high = "b", "a"
    else:
        return None
    return low if METRICS[metric][1] == "lower" else high


def format_metric(result: dict, metric: str) -> str:
    lo, hi = interval(result, metric)
    if metric == "kid":
        return f"KID {result['kid']:.4f} ± {result['kid_std']:.4f}"
    return f"{METRICS[metric][0]} {result[metric + '_pct']:.1f} % [{lo:.1f}, {hi:.1f}] (judge v{judge_version(result)})"


def format_result(result: dict) -> str:
    """One line: KID ± std and each rate with its 95 % interval, and n."""
    return "  ".join(format_metric(result, m) for m in ("kid", "gq", "dq", "pq")) + f"  (n={result['n']})"


def verdict(name_a: str, a: dict, name_b: str, b: dict, metric: str = "kid") -> str:
    """A sentence: which run is better on `metric`, that the intervals overlap, or that the two rates come from
    different judge versions and are not compared."""
    figures = f"{name_a} {format_metric(a, metric)}, {name_b} {format_metric(b, metric)}"
    if not comparable(a, b, metric):
        return f"{METRICS[metric][0]}: {_not_comparable(a, b)} ({figures})"
    winner = better(a, b, metric)
    if winner is None:
        return f"{METRICS[metric][0]}: {NO_DIFFERENCE} ({figures})"
    first, second = (name_a, name_b) if winner == "a" else (name_b, name_a)
    return f"{METRICS[metric][0]}: {first} is better than {second} ({figures})"


def check_claim(claim: str, better_run: str, worse_run: str, results: dict[str, dict],
                metric: str = "kid") -> dict:
    """A row of a claims table: `claim` says `better_run` beats `worse_run` on `metric`; the measurement confirms
    it, contradicts it (the other run is better, intervals apart), or finds no measurable difference."""
    a, b = results[better_run], results[worse_run]
    if not comparable(a, b, metric):
        status = _not_comparable(a, b)
    else:
        status = {"a": "confirmed", "b": "contradicted", None: NO_DIFFERENCE}[better(a, b, metric)]
    return {"claim": claim, "status": status, "metric": METRICS[metric][0],
            "measured": f"{better_run}: {format_metric(a, metric)}; {worse_run}: {format_metric(b, metric)}"}


def best_of(results: dict[str, dict], metric: str = "kid") -> tuple[str, list[str]]:
    """The run with the best value of `metric`, and the runs whose intervals overlap its interval (not
    measurably worse)."""
    sign = 1 if METRICS[metric][1] == "lower" else -1
    top = min(results, key=lambda name: sign * value(results[name], metric))
    tied = [name for name in results if name != top and better(results[top], results[name], metric) is None]
    return top, tied


def check_best(claim: str, run: str, results: dict[str, dict], metric: str = "kid") -> dict:
    """A claims-table row for "`run` is the best of `results` on `metric`": confirmed when it is measurably better
    than every other run, contradicted when some run is measurably better than it, else no measurable difference."""
    others = [name for name in results if name != run]
    mixed = [name for name in others if not comparable(results[run], results[name], metric)]
    if mixed:
        return {"claim": claim, "status": _not_comparable(results[run], results[mixed[0]]),
                "metric": METRICS[metric][0],
                "measured": "; ".join(f"{name}: {format_metric(results[name], metric)}" for name in [run, *others])}
    wins = [better(results[run], results[name], metric) for name in others]
    if all(w == "a" for w in wins):
        status = "confirmed"
    elif any(w == "b" for w in wins):
        status = "contradicted"
    else:
        status = NO_DIFFERENCE
    measured = "; ".join(f"{name}: {format_metric(results[name], metric)}" for name in [run, *others])
    return {"claim": claim, "status": status, "metric": METRICS[metric][0], "measured": measured}


def check_no_gain(claim: str, change: str, base: str, results: dict[str, dict], metric: str = "kid") -> dict:
    """A claims-table row for "`change` does not help over `base`": contradicted only when it is measurably
    better."""
    a, b = results[change], results[base]
    if not comparable(a, b, metric):
        status = _not_comparable(a, b)
    else:
        status = "contradicted" if better(a, b, metric) == "a" else "confirmed"
    return {"claim": claim, "status": status, "metric": METRICS[metric][0],
            "measured": f"{change}: {format_metric(a, metric)}; {base}: {format_metric(b, metric)}"}
