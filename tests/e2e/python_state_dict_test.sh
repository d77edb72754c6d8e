#!/usr/bin/env bash
# `pgolf eval` of state dicts written by Python's torch.save (issue #16): the records' final_model.pt
# is torch.save(model.state_dict()), a collections.OrderedDict with `_metadata`. Python torch makes
# the files from a tiny pgolf run's weights: a real nn.Module's state_dict(), OrderedDicts with and
# without `_metadata`, a plain dict, the same with the embedding table in bf16 (the record's dtype);
# all must score exactly the plain dict's bpb. Legacy (non-zip) and pickle-protocol-4 files must be
# refused with exit 2 and a message saying what to do. Skipped (77) without Python torch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
"$PY" -c 'import torch' > /dev/null 2>&1 || { echo "SKIP: Python torch not available"; exit 77; }
fault_setup
tiny_data "$OUT/data" 1 40000
tiny_config "$OUT/tiny.json" "$OUT/data" 3
"$PGOLF_BIN" train --config "$OUT/tiny.json" --out-dir "$OUT" --run-id run > "$OUT/train.out" 2>&1 ||
  { cat "$OUT/train.out" >&2; fail "tiny training run failed"; }

"$PY" - "$OUT/run/final_model.pt" "$OUT" <<'PYEOF'
import collections, sys, torch
src, out = sys.argv[1], sys.argv[2]
sd = torch.load(src, map_location="cpu", weights_only=False)  # restore_type_tag: not in the allow-list
assert isinstance(sd, dict) and "tok_emb.weight" in sd, list(sd)[:3]

class Holder(torch.nn.Module):
    pass

def module_with(tensors):
    # Nested modules named as the keys, so state_dict() is exactly what a model's would be.
    root = Holder()
    for key, t in tensors.items():
        *path, leaf = key.split(".")
        m = root
        for part in path:
            if not hasattr(m, part):
                m.add_module(part, Holder())
            m = getattr(m, part)
        m.register_parameter(leaf, torch.nn.Parameter(t.clone(), requires_grad=False))
    return root

real = module_with(sd).state_dict()
assert isinstance(real, collections.OrderedDict) and hasattr(real, "_metadata")
torch.save(real, f"{out}/module.pt")
plain_od = collections.OrderedDict((k, v) for k, v in sd.items())
torch.save(plain_od, f"{out}/odict.pt")
meta_od = collections.OrderedDict(plain_od)
meta_od._metadata = collections.OrderedDict([("", {"version": 1}), ("tok_emb", {"version": 1})])
torch.save(meta_od, f"{out}/odict_meta.pt")
torch.save(dict(sd), f"{out}/dict.pt")
bf = {k: (v.bfloat16() if k == "tok_emb.weight" else v) for k, v in sd.items()}
torch.save(dict(bf), f"{out}/dict_bf16.pt")
torch.save(module_with(bf).state_dict(), f"{out}/module_bf16.pt")
torch.save(real, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
torch.save(real, f"{out}/protocol4.pt", pickle_protocol=4)
PYEOF

for f in dict module odict odict_meta dict_bf16 module_bf16; do
  "$PGOLF_BIN" eval "$OUT/$f.pt" --config "$OUT/tiny.json" --method standard --out "$OUT/$f.json" \
    > "$OUT/$f.out" 2>&1 || { cat "$OUT/$f.out" >&2; fail "pgolf eval refused $f.pt"; }
done
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
r = {f: json.load(open(f"{out}/{f}.json"))["results"][0] for f in
     ("dict", "module", "odict", "odict_meta", "dict_bf16", "module_bf16")}
for a, b in (("module", "dict"), ("odict", "dict"), ("odict_meta", "dict"), ("module_bf16", "dict_bf16")):
    assert r[a]["val_bpb"] == r[b]["val_bpb"] and r[a]["val_loss"] == r[b]["val_loss"], (a, r[a], b, r[b])
assert r["dict"]["token_count"] > 0 and r["dict"]["val_bpb"] > 0, r["dict"]
print("val_bpb", r["dict"]["val_bpb"], "bf16 table", r["dict_bf16"]["val_bpb"])
PYEOF

expect_exit 2 "$PGOLF_BIN" eval "$OUT/legacy.pt" --config "$OUT/tiny.json" --out "$OUT/x.json"
grep -q "_use_new_zipfile_serialization" /tmp/pgolf_e2e_out.$$ || { cat /tmp/pgolf_e2e_out.$$; fail "legacy file: no hint"; }
expect_exit 2 "$PGOLF_BIN" eval "$OUT/protocol4.pt" --config "$OUT/tiny.json" --out "$OUT/x.json"
grep -q "protocol" /tmp/pgolf_e2e_out.$$ || { cat /tmp/pgolf_e2e_out.$$; fail "protocol 4: no hint"; }
pass
