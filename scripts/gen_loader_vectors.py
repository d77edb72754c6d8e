#!/usr/bin/env python3
"""Writes tests/data/loader_vectors.json: the windows (shard index, start token) that the records'
shuffled loader (ShuffledSequenceLoader, 1.0856-1.0798) and coprime loader (PR #726, 1.1122/
1.0979) draw with numpy, re-implemented here from their index rules (no tokens are read: only
the shard sizes matter). tests/unit/loaders_test.cpp builds shards of these sizes at these
relative paths and checks LOADER=shuffled|coprime window for window.

usage: python3 scripts/gen_loader_vectors.py [OUT.json]   (default: tests/data/loader_vectors.json)

numpy runs with its AVX-512 dispatch disabled (the script re-runs itself so): there np.power is
libm's pow, as in pgolf; numpy's AVX-512 power (SVML) differs in the last bit for some weights,
which changes the coprime draws (see src/data/coprime_loader.cpp).
"""
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

M64 = (1 << 64) - 1


def checksum(windows, h=1469598103934665603):
    for shard, start in windows:
        h = ((h ^ shard) * 1099511628211) & M64
        h = ((h ^ start) * 1099511628211) & M64
    return h


def phase_and_blocks(rng, n, seq):
    max_phase = min(seq - 1, max(0, n - seq - 1))
    phase = int(rng.integers(max_phase + 1)) if max_phase > 0 else 0
    return phase, (n - 1 - phase) // seq


class Shuffled:
    """Per rank: shards[rank::world], PCG64(rank); windows popped from the back of each shard's
    permuted list; the shard of a row by choice(p = left / total); all reset when none left."""

    def __init__(self, sizes, rank, world, seq):
        self.ids = list(range(rank, len(sizes), world))
        self.sizes = [sizes[i] for i in self.ids]
        self.seq = seq
        self.rng = np.random.Generator(np.random.PCG64(rank))
        self.lists = [self.fresh(i) for i in range(len(self.ids))]

    def fresh(self, i):
        phase, count = phase_and_blocks(self.rng, self.sizes[i], self.seq)
        return (phase + self.rng.permutation(count) * self.seq).tolist()

    def call(self, rows):
        left = np.array([len(v) for v in self.lists], dtype=np.float64)
        out = []
        for _ in range(rows):
            if left.sum() <= 0:
                self.lists = [self.fresh(i) for i in range(len(self.ids))]
                left = np.array([len(v) for v in self.lists], dtype=np.float64)
            i = int(self.rng.choice(len(self.ids), p=left / left.sum()))
            out.append((self.ids[i], self.lists[i].pop()))
            left[i] -= 1
        return out


class Coprime:
    """All ranks: PCG64(FNV-1a from 0 over the str(Path) bytes of every path); per call the
    global windows of every rank (rank r keeps [r::world])."""

    def __init__(self, paths, sizes, seq, gns):
        seed = 0
        for p in paths:
            for b in str(Path(p)).encode():
                seed = ((seed ^ b) * 1099511628211) & M64
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.sizes, self.seq, self.gns, self.calls = sizes, seq, gns, 0
        self.walk = {}  # shard -> [phase, blocks, next, start, stride]
        self.eligible = [i for i, n in enumerate(sizes) if (n - 1) // seq > 0]

    def new_walk(self, s):
        phase, blocks = phase_and_blocks(self.rng, self.sizes[s], self.seq)
        start = int(self.rng.integers(blocks)) if blocks > 1 else 0
        stride = 1
        while blocks > 1:
            stride = int(self.rng.integers(1, blocks))
            if math.gcd(stride, blocks) == 1:
                break
        self.walk[s] = [phase, blocks, 0, start, stride]

    def take(self, s, count):
        out = []
        while len(out) < count:
            if s not in self.walk or self.walk[s][2] >= self.walk[s][1]:
                self.new_walk(s)
            w = self.walk[s]
            k = min(count - len(out), w[1] - w[2])
            out += [(s, w[0] + ((w[3] + (w[2] + j) * w[4]) % w[1]) * self.seq) for j in range(k)]
            w[2] += k
        return out

    def weights(self, progress):
        left = [float(max(self.walk[s][1] - self.walk[s][2], 1)) if s in self.walk
                else float((self.sizes[s] - 1) // self.seq) for s in self.eligible]
        w = np.power(np.array(left, dtype=np.float64), 0.90 - 0.40 * progress)
        if not np.isfinite(w.sum()) or w.sum() <= 0.0:
            w = np.ones(len(left), dtype=np.float64)
        return w / float(w.sum())

    def call(self, world):
        ec, progress = len(self.eligible), min(self.calls / 1800.0, 1.0)
        p = self.weights(progress)
        low, high = min(max(8, world), ec, self.gns), min(max(32, 8 * world), ec, self.gns)
        mix = max(1, min(int(round(low + progress * (high - low))), ec, self.gns))
        picked = self.rng.choice(ec, size=mix, replace=False, p=p)
        share = p[picked].copy()
        share /= share.sum()
        counts = np.ones(mix, dtype=np.int64)
        if self.gns > mix:
            counts += self.rng.multinomial(self.gns - mix, share).astype(np.int64)
        buckets = []
        for k in self.rng.permutation(mix).tolist():
            b = self.take(self.eligible[int(picked[k])], int(counts[k]))
            if len(b) > 1:
                b = [b[j] for j in self.rng.permutation(len(b)).tolist()]
            buckets.append(b)
        out, active = [], list(range(len(buckets)))
        while active:
            nxt = []
            for j in self.rng.permutation(len(active)).tolist():
                out.append(buckets[active[j]].pop())
                if buckets[active[j]]:
                    nxt.append(active[j])
            active = nxt
        self.calls += 1
        return out


def run(loader, calls, kept, *args):
    windows, first = [], []
    for c in range(calls):
        w = loader.call(*args)
        windows += w
        if c < kept:
            first.append([list(x) for x in w])
    return {"first_calls": first, "checksum": checksum(windows)}


def without_avx512():
    """Re-runs this script with numpy's AVX-512 dispatch targets disabled, once."""
    from numpy._core._multiarray_umath import __cpu_dispatch__
    off = [f for f in __cpu_dispatch__ if "AVX512" in f or f == "X86_V4"]
    if off and os.environ.get("NPY_DISABLE_CPU_FEATURES") is None:
        os.environ["NPY_DISABLE_CPU_FEATURES"] = " ".join(off)
        os.execv(sys.executable, [sys.executable] + sys.argv)


def main():
    without_avx512()
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data",
                                                            "loader_vectors.json")
    seq = 16
    small = [700, 333, 1025, 16, 17, 260, 513]
    big = [9000, 12000, 7001]
    small_paths = [f"./small//fineweb_train_{i:06d}.bin" for i in range(len(small))]
    big_paths = [f"big/./fineweb_train_{i:06d}.bin" for i in range(len(big))]
    doc = {"numpy_version": np.__version__, "npy_disable_cpu_features":
           os.environ.get("NPY_DISABLE_CPU_FEATURES", ""), "seq_len": seq, "cases": []}
    for rank in range(2):
        r = run(Shuffled(small, rank, 2, seq), 400, 60, 8)
        doc["cases"].append({"kind": "shuffled", "paths": small_paths, "sizes": small, "world": 2,
                             "rank": rank, "rows": 8, "calls": 400, **r})
    r = run(Coprime(small_paths, small, seq, 16), 1900, 30, 2)
    doc["cases"].append({"kind": "coprime", "paths": small_paths, "sizes": small, "world": 2,
                         "rank": -1, "rows": 8, "calls": 1900, **r})
    r = run(Coprime(big_paths, big, seq, 128), 300, 4, 1)
    doc["cases"].append({"kind": "coprime", "paths": big_paths, "sizes": big, "world": 1,
                         "rank": -1, "rows": 128, "calls": 300, **r})
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out} (numpy {np.__version__})")


if __name__ == "__main__":
    main()
