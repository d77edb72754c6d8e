#!/usr/bin/env python3
"""Seed statistics and the challenge's record test for several runs (Python 3 standard library only).

    scripts/stats.py RUN... [--baseline-bpb B | --baseline-nats L] [--margin-nats 0.005] [--alpha 0.01]

RUN is a pgolf run directory (reads submission.json, else eval.json), a submission.json / eval.json
file, or a train log (the reference's or ours: the last `final_*_exact val_loss:X val_bpb:Y` line).

Prints each run's final val_loss (nats per token) and val_bpb, their mean and sample standard
deviation (ddof 1; the records' READMEs often quote the population std, ddof 0, printed too), and,
given a baseline, the one-sided one-sample t-test of the challenge (README "Submission Process"): a new
record must beat the current one by at least MARGIN nats with p < ALPHA, i.e.
    H0: mean val_loss >= baseline_nats - margin   vs   H1: mean val_loss < baseline_nats - margin,
    t = (mean - (baseline_nats - margin)) / (sd / sqrt(n)),   p = P(T_{n-1} <= t).
The margin is in nats per token (val_loss), not bits per byte. A baseline given in bpb is converted
with the runs' own ratio val_loss / val_bpb = ln(2) * bytes/token (the same for every run scored on the
same validation set and tokenizer), or with --nats-per-bpb when the runs report only bpb.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

_FINAL_RE = re.compile(r"final_\w*?_exact val_loss:([-+0-9.eE]+) val_bpb:([-+0-9.eE]+)")


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x must be in [0, 1], found {x}")
    if x in (0.0, 1.0):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) +
                 b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom."""
    if df <= 0:
        raise ValueError(f"t_cdf: df must be > 0, found {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t > 0 else tail


def mean_std(xs: list[float]) -> tuple[float, float, float]:
    """Mean, sample std (ddof 1; nan for n < 2) and population std (ddof 0)."""
    n = len(xs)
    m = math.fsum(xs) / n
    ss = math.fsum((x - m) ** 2 for x in xs)
    return m, (math.sqrt(ss / (n - 1)) if n > 1 else float("nan")), math.sqrt(ss / n)


def record_test(losses: list[float], baseline_nats: float, margin_nats: float) -> dict:
    """One-sided one-sample t-test that mean(losses) < baseline_nats - margin_nats."""
    n = len(losses)
    m, sd, _ = mean_std(losses)
    threshold = baseline_nats - margin_nats
    out = {"n": n, "mean_nats": m, "threshold_nats": threshold,
           "improvement_nats": baseline_nats - m, "t": None, "df": n - 1, "p_value": None}
    if n < 2:
        return out
    if sd == 0.0:
        t = -math.inf if m < threshold else (math.inf if m > threshold else 0.0)
        p = 0.0 if m < threshold else (1.0 if m > threshold else 0.5)
    else:
        t = (m - threshold) / (sd / math.sqrt(n))
        p = t_cdf(t, n - 1)
    out.update(t=t, p_value=p)
    return out


def _from_json(path: str) -> tuple[float | None, float | None]:
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    if "results" in j:  # eval.json: the first result is the final score
        r = j["results"][0]
        return r.get("val_loss"), r.get("val_bpb")
    return j.get("val_loss"), j.get("val_bpb")


def _from_log(path: str) -> tuple[float | None, float | None]:
    last = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _FINAL_RE.search(line)
            if m:
                last = (float(m.group(1)), float(m.group(2)))
    if last is None:
        raise ValueError(f"{path}: no 'final_*_exact val_loss:... val_bpb:...' line")
    return last


def read_run(path: str) -> dict:
    """{'path', 'val_loss', 'val_bpb'} of one run; raises ValueError with the path on bad input."""
    src = path
    if os.path.isdir(path):
        for name in ("submission.json", "eval.json"):
            if os.path.isfile(os.path.join(path, name)):
                src = os.path.join(path, name)
                break
        else:
            raise ValueError(f"{path}: no submission.json or eval.json in this run directory")
    try:
        loss, bpb = _from_json(src) if src.endswith(".json") else _from_log(src)
    except (OSError, json.JSONDecodeError, KeyError, IndexError) as e:
        raise ValueError(f"{src}: {e}") from e
    for name, v in (("val_loss", loss), ("val_bpb", bpb)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise ValueError(f"{src}: {name} is {v!r}, expected a finite number")
    if loss is None and bpb is None:
        raise ValueError(f"{src}: neither val_loss nor val_bpb found")
    return {"path": src, "val_loss": loss, "val_bpb": bpb}


def analyse(runs: list[dict], baseline_bpb: float | None, baseline_nats: float | None,
            margin_nats: float, alpha: float, nats_per_bpb: float | None) -> dict:
    out: dict = {"runs": runs, "n": len(runs), "margin_nats": margin_nats, "alpha": alpha}
    for key in ("val_bpb", "val_loss"):
        vals = [r[key] for r in runs if r[key] is not None]
        if len(vals) == len(runs):
            m, sd, psd = mean_std(vals)
            out[key] = {"mean": m, "std": sd, "std_population": psd}
    if nats_per_bpb is None:
        ratios = [r["val_loss"] / r["val_bpb"] for r in runs if r["val_loss"] and r["val_bpb"]]
        nats_per_bpb = math.fsum(ratios) / len(ratios) if ratios else None
    out["nats_per_bpb"] = nats_per_bpb
    if baseline_bpb is None and baseline_nats is None:
        return out
    if baseline_nats is None:
        if nats_per_bpb is None:
            raise ValueError("a baseline in bpb needs runs with both val_loss and val_bpb, or "
                             "--nats-per-bpb")
        baseline_nats = baseline_bpb * nats_per_bpb
    losses = []
    for r in runs:
        if r["val_loss"] is not None:
            losses.append(r["val_loss"])
        elif nats_per_bpb is not None:
            losses.append(r["val_bpb"] * nats_per_bpb)
        else:
            raise ValueError(f"{r['path']}: only val_bpb known; pass --nats-per-bpb")
    test = record_test(losses, baseline_nats, margin_nats)
    test["baseline_nats"] = baseline_nats
    test["baseline_bpb"] = baseline_bpb
    test["significant"] = test["p_value"] is not None and test["p_value"] < alpha
    out["test"] = test
    return out


def _fmt(v, spec=".8f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def report(res: dict) -> str:
    lines = []
    for r in res["runs"]:
        lines.append(f"{r['path']}: val_loss {_fmt(r['val_loss'])} val_bpb {_fmt(r['val_bpb'])}")
    for key, unit in (("val_bpb", "bpb"), ("val_loss", "nats")):
        if key in res:
            s = res[key]
            lines.append(f"{key}: n {res['n']} mean {_fmt(s['mean'])} std {_fmt(s['std'])} (ddof 1)"
                         f" std_pop {_fmt(s['std_population'])} {unit}")
    if res.get("nats_per_bpb"):
        lines.append(f"nats_per_bpb {res['nats_per_bpb']:.6f} (= ln2 x bytes/token "
                     f"{res['nats_per_bpb'] / math.log(2):.4f})")
    t = res.get("test")
    if t:
        lines.append(f"record test: baseline {_fmt(t['baseline_nats'])} nats"
                     + (f" ({t['baseline_bpb']} bpb)" if t["baseline_bpb"] is not None else "")
                     + f", need mean < {_fmt(t['threshold_nats'])} (margin {res['margin_nats']} nats)")
        lines.append(f"  improvement {_fmt(t['improvement_nats'], '.6f')} nats, t {_fmt(t['t'], '.4f')}"
                     f" df {t['df']}, one-sided p {_fmt(t['p_value'], '.3g')}")
        if t["p_value"] is None:
            lines.append("  verdict: needs at least 2 runs")
        else:
            lines.append(f"  verdict: {'SIGNIFICANT' if t['significant'] else 'not significant'}"
                         f" at p < {res['alpha']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories, submission.json/eval.json, train logs")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--baseline-bpb", type=float, help="score (bpb) the runs must beat")
    g.add_argument("--baseline-nats", type=float, help="score (val_loss, nats/token) to beat")
    ap.add_argument("--margin-nats", type=float, default=0.005, help="required improvement (0.005)")
    ap.add_argument("--alpha", type=float, default=0.01, help="significance level (0.01)")
    ap.add_argument("--nats-per-bpb", type=float, help="val_loss/val_bpb when runs lack one of them")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args(argv)
    try:
        runs = [read_run(p) for p in a.runs]
        res = analyse(runs, a.baseline_bpb, a.baseline_nats, a.margin_nats, a.alpha,
                      a.nats_per_bpb)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=2) if a.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
