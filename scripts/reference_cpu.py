#!/usr/bin/env python3
"""Runs a reference train_gpt.py (the records' CUDA-only script, e.g. PR #180's) on the CPU, for
comparisons with pgolf (scripts/compare_reference.sh, scripts/bench_vs_reference.sh).

The script is read from the path given (it is never part of pgolf) and executed unchanged except
for what ties it to CUDA: the device becomes the CPU, torch.compile the identity, torch.autocast a
no-op (on the CPU the record's model then runs as its parameters are stored: bf16 embedding tables,
hence a bf16 residual stream; pgolf's DTYPE=reference), the CUDA syncs, SDPA switches and memory
counters no-ops, nvidia-smi `true`. --fp32 also drops the model's `.bfloat16()` (all fp32).

  reference_cpu.py train REF [--fp32]          its own main() in the current directory (env = knobs)
  reference_cpu.py bench REF --batch-seqs B --seq-len T --steps N [--warmup W]
        seconds per training step (zero_grad, forward, backward, norm + clip, its optimisers) on
        random tokens, JSON; --profile FILE also writes the steps' CPU profile (Chrome trace)
  reference_cpu.py sliding REF --val-tokens N [--weights W.pt] [--save-weights S.pt]
        seconds of its eval_val_sliding over the first N validation tokens, JSON
Threads: THREADS (default 1) for torch.set_num_threads.
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch


def load_reference(path, fp32=False):
    src = open(path, encoding="utf-8").read()
    edits = [
        ('torch.device("cuda", local_rank)', 'torch.device("cpu")'),
        ('["nvidia-smi"]', '["true"]'),
        ("if not torch.cuda.is_available():", "if False:"),
        ("torch.autocast(", "_pgolf_no_autocast("),
    ]
    if fp32:
        edits.append((".to(device).bfloat16()", ".to(device)"))
    for old, new in edits:
        if old not in src:
            sys.exit(f"reference_cpu: {path}: expected to find {old!r}; is this a record's train_gpt.py?")
        src = src.replace(old, new)
    torch.compile = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
    for name in ("set_device", "synchronize", "manual_seed_all", "reset_peak_memory_stats"):
        setattr(torch.cuda, name, lambda *a, **k: None)
    torch.cuda.max_memory_allocated = lambda *a, **k: 0
    torch.cuda.max_memory_reserved = lambda *a, **k: 0
    for name in ("enable_cudnn_sdp", "enable_flash_sdp", "enable_mem_efficient_sdp", "enable_math_sdp"):
        setattr(torch.backends.cuda, name, lambda *a, **k: None)
    module = {"__name__": "reference_train_gpt", "__file__": os.path.abspath(path),
              "_pgolf_no_autocast": lambda *a, **k: contextlib.nullcontext()}
    exec(compile(src, path, "exec"), module)
    return module


def build_model(ref, fp32=False):
    """The model and optimisers exactly as the reference's main() builds them."""
    args = ref["Hyperparameters"]()
    m = ref["GPT"](vocab_size=args.vocab_size, num_layers=args.num_layers, model_dim=args.model_dim,
                   num_heads=args.num_heads, num_kv_heads=args.num_kv_heads, mlp_mult=args.mlp_mult,
                   tie_embeddings=args.tie_embeddings, tied_embed_init_std=args.tied_embed_init_std,
                   logit_softcap=args.logit_softcap, rope_base=args.rope_base,
                   qk_gain_init=args.qk_gain_init, bigram_vocab_size=args.bigram_vocab_size,
                   bigram_dim=args.bigram_dim)
    if not fp32:
        m = m.bfloat16()
        for mod in m.modules():
            if isinstance(mod, ref["CastedLinear"]):
                mod.float()
        ref["restore_low_dim_params_to_fp32"](m)
    return args, m


def make_optimizers(ref, args, m):
    pats = ref["CONTROL_TENSOR_NAME_PATTERNS"]
    named = list(m.blocks.named_parameters())
    matrix = [p for n, p in named if p.ndim == 2 and not any(q in n for q in pats)]
    scalar = [p for n, p in named if p.ndim < 2 or any(q in n for q in pats)]
    scalar += [m.skip_weights, m.smear.gate]
    tok = [{"params": [m.tok_emb.weight], "lr": args.tied_embed_lr}]
    if m.bigram is not None:
        scalar.append(m.bigram.scale)
        tok.append({"params": [m.bigram.embed.weight], "lr": args.tied_embed_lr})
        if m.bigram.proj is not None:
            matrix.append(m.bigram.proj.weight)
    betas, eps, wd = (args.beta1, args.beta2), args.adam_eps, args.weight_decay
    return [torch.optim.AdamW(tok, betas=betas, eps=eps, weight_decay=wd, fused=True),
            ref["Muon"](matrix, lr=args.matrix_lr, momentum=args.muon_momentum,
                        backend_steps=args.muon_backend_steps, weight_decay=0.04),
            torch.optim.AdamW([{"params": scalar, "lr": args.scalar_lr}], betas=betas, eps=eps,
                              weight_decay=wd, fused=True)]


def bench(ref, a):
    torch.manual_seed(0)
    args, m = build_model(ref, a.fp32)
    opts = make_optimizers(ref, args, m)
    ids = torch.randint(0, args.vocab_size, (a.batch_seqs, a.seq_len))
    tgt = torch.randint(0, args.vocab_size, (a.batch_seqs, a.seq_len))

    def step():
        for o in opts:
            o.zero_grad(set_to_none=True)
        m(ids, tgt).backward()
        if args.grad_clip_norm > 0:  # as its training loop (and pgolf bench) do
            torch.nn.utils.clip_grad_norm_(m.parameters(), args.grad_clip_norm)
        for o in opts:
            o.step()

    for _ in range(a.warmup):
        step()
    prof = contextlib.nullcontext()
    if a.profile:  # the same Kineto CPU trace as `pgolf bench --profile` (scripts/trace_ops.py)
        prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    t0, c0 = time.perf_counter(), time.process_time()
    with prof:
        for _ in range(a.steps):
            step()
    sec = (time.perf_counter() - t0) / a.steps
    if a.profile:
        prof.export_chrome_trace(a.profile)
    cpu = (time.process_time() - c0) / a.steps  # CPU time: robust to other jobs on the box
    print(json.dumps({"side": "reference", "step_seconds": sec, "step_cpu_seconds": cpu,
                      "threads": torch.get_num_threads(), "tokens_per_step": a.batch_seqs * a.seq_len}))


def sliding(ref, a):
    torch.manual_seed(int(os.environ.get("SEED", "1337")))
    args, m = build_model(ref, a.fp32)
    if a.weights:
        m.load_state_dict(torch.load(a.weights, map_location="cpu"), strict=True)
    if a.save_weights:  # what pgolf then scores: torch.save of an OrderedDict state dict
        torch.save(m.state_dict(), a.save_weights)
    sp = ref["spm"].SentencePieceProcessor(model_file=args.tokenizer_path)
    luts = ref["build_sentencepiece_luts"](sp, args.vocab_size, torch.device("cpu"))
    val = ref["load_validation_tokens"](args.val_files, args.train_seq_len)
    if a.val_tokens > 0:
        val = val[: a.val_tokens + 1]
    t0, c0 = time.perf_counter(), time.process_time()
    loss, bpb = ref["eval_val_sliding"](args, m, 0, 1, torch.device("cpu"), val, *luts,
                                        stride=args.eval_stride, batch_seqs=args.eval_batch_seqs)
    print(json.dumps({"side": "reference", "seconds": time.perf_counter() - t0,
                      "cpu_seconds": time.process_time() - c0, "val_loss": loss, "val_bpb": bpb,
                      "threads": torch.get_num_threads()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "bench", "sliding"])
    ap.add_argument("reference", help="path of the reference train_gpt.py")
    ap.add_argument("--fp32", action="store_true", help="drop the model's .bfloat16() (all fp32)")
    ap.add_argument("--batch-seqs", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--val-tokens", type=int, default=0, help="0: the whole validation split")
    ap.add_argument("--weights", default="", help="state dict to score (sliding; default: the init)")
    ap.add_argument("--save-weights", default="", help="torch.save the scored state dict here")
    ap.add_argument("--profile", default="", help="bench: write a Chrome trace of the timed steps here")
    a = ap.parse_args()
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        os.environ.pop(k, None)
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    ref = load_reference(a.reference, a.fp32)
    if a.mode == "train":
        ref["main"]()
    elif a.mode == "bench":
        bench(ref, a)
    else:
        sliding(ref, a)


if __name__ == "__main__":
    main()
