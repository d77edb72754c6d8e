#!/usr/bin/env python3
"""Self time per operator of CPU profiler traces (Chrome trace JSON, as `pgolf bench --profile`
and `scripts/reference_cpu.py bench --profile` write them), side by side:

  trace_ops.py --steps N A.json [B.json ...] [--top 40]

Self time = an op's duration less that of the ops nested inside it on the same thread, so the
columns add up to the profiled time. Per step: divided by --steps (the steps the trace covers).
Rows are sorted by the first trace's self time; `count` is calls per step.
"""
import argparse
import collections
import json


def self_times(path):
    events = json.load(open(path))
    events = events["traceEvents"] if isinstance(events, dict) else events
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and e.get("cat", "cpu_op") in ("cpu_op", "user_annotation", "python_function") \
                and "dur" in e and e.get("cat") != "python_function":
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    total = collections.Counter()
    count = collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child_time]
        def pop():
            end, name, child, dur = stack.pop()
            total[name] += dur - child
            if stack:
                stack[-1][2] += dur
        for e in evs:
            while stack and stack[-1][0] <= e["ts"]:
                pop()
            stack.append([e["ts"] + e["dur"], e["name"], 0.0, e["dur"]])
            count[e["name"]] += 1
        while stack:
            pop()
    return total, count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--steps", type=int, required=True, help="steps each trace covers")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    data = [self_times(p) for p in a.traces]
    names = sorted(set().union(*(t for t, _ in data)), key=lambda n: -data[0][0].get(n, 0.0))
    head = "".join(f"{'ms':>9}{'count':>7}  " for _ in data)
    print(f"{'op (self time per step)':<58}{head}")
    for n in names[: a.top]:
        cols = "".join(f"{t.get(n, 0.0) / 1000 / a.steps:9.2f}{c.get(n, 0) / a.steps:7.0f}  " for t, c in data)
        print(f"{n[:57]:<58}{cols}")
    tot = "".join(f"{sum(t.values()) / 1000 / a.steps:9.2f}{sum(c.values()) / a.steps:7.0f}  " for t, c in data)
    print(f"{'total':<58}{tot}")


if __name__ == "__main__":
    main()
