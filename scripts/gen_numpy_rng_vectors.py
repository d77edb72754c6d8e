#!/usr/bin/env python3
"""Writes tests/data/numpy_rng_vectors.json: what numpy's own SeedSequence, PCG64 and Generator
return, for the bit-exact C++ copies in include/pgolf/data/rng.h and np_random.h
(tests/unit/numpy_rng_test.cpp reads the committed file, so the tests need no numpy).

usage: python3 scripts/gen_numpy_rng_vectors.py [OUT.json]   (default: tests/data/numpy_rng_vectors.json)

128-bit PCG64 words are written as [high 64 bits, low 64 bits]; a generator's whole state as
[state_hi, state_lo, inc_hi, inc_lo, has_uint32, uinteger].
"""
import json
import os
import sys

import numpy as np

M64 = (1 << 64) - 1


def split128(v):
    return [(v >> 64) & M64, v & M64]


def gen_state(bg):
    s = bg.state
    return split128(s["state"]["state"]) + split128(s["state"]["inc"]) + [s["has_uint32"], s["uinteger"]]


def seed_sequences():
    out = []
    for entropy in [0, 1, 7, 2**32 - 1, 2**32, 2**64 - 1, 12345678901234567890]:
        ss = np.random.SeedSequence(entropy)
        out.append({"entropy": entropy, "pool": [int(w) for w in ss.pool],
                    "state32": [int(w) for w in ss.generate_state(6, np.uint32)],
                    "state64": [int(w) for w in ss.generate_state(3, np.uint64)]})
    return out


def pcg64_cases():
    out = []
    for seed in [0, 1, 42, 2**32 + 5, 0xCBF29CE484222325]:
        bg = np.random.PCG64(seed)
        case = {"seed": seed, "state": gen_state(bg), "raw": [int(v) for v in bg.random_raw(6)]}
        adv = []
        for delta in [1, 1000, 2**64 + 3, 2**127 + 11]:
            b = np.random.PCG64(seed)
            b.advance(delta)
            adv.append({"delta": split128(delta), "state": gen_state(b), "raw": int(b.random_raw())})
        case["advance"] = adv
        out.append(case)
    return out


def probs(k, salt):
    w = np.random.default_rng(1000 + salt).random(k) + 0.05
    return [float(v) for v in w / w.sum()]


def op_list():
    ops = [["u32"], ["double"], ["u32"], ["u32"], ["u64"], ["u32"]]
    for lo, hi in [(0, 1), (0, 2), (0, 3), (0, 5), (1, 2), (1, 7), (0, 1000), (-5, 5), (0, 2**31 + 7),
                   (0, 2**32), (0, 2**32 + 1), (3, 2**40 + 17), (0, 2**63 - 1), (-2**63, 2**63 - 1),
                   (0, 2049), (1, 561)]:
        ops += [["integers", lo, hi], ["double"], ["integers", lo, hi]]
    for n in [0, 1, 2, 3, 5, 8, 17, 100]:
        ops += [["permutation", n], ["u32"]]
    for k, salt in [(1, 0), (2, 1), (5, 2), (13, 3)]:
        ops += [["choice", probs(k, salt)], ["choice", probs(k, salt)]]
    p_zero = probs(6, 4)
    p_zero[2] = 0.0
    ops += [["choice", [v / sum(p_zero) for v in p_zero]]]
    for k, size, salt in [(6, 6, 5), (13, 8, 6), (40, 32, 7), (3, 1, 8)]:
        ops += [["choice_unique", probs(k, salt), size], ["u32"]]
    for n, p in [(10, 0.3), (125, 0.33), (125, 0.7), (1000, 0.5), (5, 0.9), (0, 0.5), (50, 0.0),
                 (200, 0.01), (31, 1.0), (100000, 0.25)]:
        ops += [["binomial", n, p]]
    for n, k, salt in [(10, 6, 9), (125, 3, 10), (376, 8, 11), (5000, 32, 12), (0, 4, 13)]:
        ops += [["multinomial", n, probs(k, salt)]]
    return ops


def apply_op(rng, op):
    kind = op[0]
    if kind == "u32":
        return int(rng.integers(0, 2**32, dtype=np.uint32))
    if kind == "u64":
        return int(rng.bit_generator.random_raw())
    if kind == "double":
        return float(rng.random())
    if kind == "integers":
        return int(rng.integers(op[1], op[2]))
    if kind == "permutation":
        return [int(v) for v in rng.permutation(op[1])]
    if kind == "choice":
        return int(rng.choice(len(op[1]), p=np.array(op[1])))
    if kind == "choice_unique":
        return [int(v) for v in rng.choice(len(op[1]), size=op[2], replace=False, p=np.array(op[1]))]
    if kind == "binomial":
        return int(rng.binomial(op[1], op[2]))
    if kind == "multinomial":
        return [int(v) for v in rng.multinomial(op[1], np.array(op[2]))]
    raise ValueError(kind)


def generator_cases():
    out = []
    for seed in [0, 1, 2026]:
        rng = np.random.default_rng(seed)
        results = [apply_op(rng, op) for op in op_list()]
        out.append({"seed": seed, "results": results, "final_state": gen_state(rng.bit_generator)})
    return out


def sums():
    rng = np.random.default_rng(7)
    out = []
    for n in [1, 2, 7, 8, 9, 16, 127, 128, 129, 300, 1000]:
        v = rng.random(n) * rng.random(n) * 1e3
        out.append({"values": [float(x) for x in v], "sum": float(v.sum())})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data",
                                                             "numpy_rng_vectors.json")
    doc = {"numpy_version": np.__version__, "seed_sequence": seed_sequences(), "pcg64": pcg64_cases(),
           "ops": op_list(), "generator": generator_cases(), "sums": sums()}
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} (numpy {np.__version__})")


if __name__ == "__main__":
    main()
