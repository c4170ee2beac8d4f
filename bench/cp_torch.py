"""The generation benchmark of PyTorch beside `npm run bench -- generate`: the compound-word Transformer of
scripts/torch/cp_model.py (the one Python copy of src/cp/model.ts) stepped word by word with EMOPIA's sampling.

As a benchmark:  /usr/bin/python3 bench/cp_torch.py gen SPEC.json
SPEC.json: {"config": CPConfig as in config.json, "allowed": {type: {family: [indices]}}, "types": [type names],
            "typeAllowed": [type indices that may be sampled],
            "prime": [[8 ints], ...], "words": N, "seed": S, "sampling": {family: {"t": .., "p": ..|null}}}
            optional "pieces": P (default 1)
Times the process's first piece (cold), then P more pieces, each from a fresh state with the same seed, and
prints one JSON line: {"words": N per piece, "seconds": the P pieces' median, "words_per_s": N / that,
"first_seconds": s, "first_words_per_s": r, "pieces": P, "threads": n, "torch": version}.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "torch"))
# The model lives in scripts/torch/cp_model.py (one copy); re-exported for bench/cp_train_torch.py.
from cp_model import EPS, FAMILIES, AttentionLayer, CPModel, EncoderLayer, phi  # noqa: E402,F401


def sample(logits, t, p, allowed, rng):
    """EMOPIA's utils.sampling on the allowed values: temperature, then nucleus (or plain weighted sampling)."""
    x = logits[allowed].astype(np.float64) / t
    probs = np.exp(x - x.max())
    probs /= probs.sum()
    if p is not None:
        order = np.argsort(-probs, kind="stable")
        cum = np.cumsum(probs[order])
        last = int(np.searchsorted(cum, p, side="right"))
        keep = order[: min(last + 1, len(order))]
        kp = probs[keep] / probs[keep].sum()
        return int(allowed[keep[rng.choice(len(keep), p=kp)]])
    return int(allowed[rng.choice(len(allowed), p=probs)])


def bench_generate(spec):
    torch.manual_seed(spec["seed"])
    model = CPModel(spec["config"]).eval()
    allowed = {t: {f: np.array(v, dtype=np.int64) for f, v in fam.items()} for t, fam in spec["allowed"].items()}
    types = spec["types"]
    smp = spec["sampling"]
    all_types = np.array(spec.get("typeAllowed", list(range(len(types)))), dtype=np.int64)
    pieces = int(spec.get("pieces", 1))

    def one_piece():
        # One piece from a fresh state, timed from its first prompt word to its last word.
        rng = np.random.default_rng(spec["seed"])
        state = model.init_state(1)
        t0 = time.perf_counter()
        h = None
        for w in spec["prime"]:
            h, state = model.step(torch.tensor([w], dtype=torch.long), state)
        n = 0
        while n < spec["words"]:
            ty = sample(model.proj_type(h)[0].numpy(), smp["type"]["t"], smp["type"]["p"], all_types, rng)
            logits = model.given_type(h, torch.tensor([ty]))
            word = [0] * 8
            word[FAMILIES.index("type")] = ty
            for i, f in enumerate(FAMILIES):
                if f in ("type", "emotion"):
                    continue
                word[i] = sample(logits[f][0].numpy(), smp[f]["t"], smp[f]["p"], allowed[types[ty]][f], rng)
            h, state = model.step(torch.tensor([word], dtype=torch.long), state)
            n += 1
        return time.perf_counter() - t0, n + len(spec["prime"])

    with torch.no_grad():
        # The first piece of the process (cold), then `pieces` more (steady): their median.
        first, n_total = one_piece()
        dt = statistics.median(one_piece()[0] for _ in range(pieces))
    print(json.dumps({"words": n_total, "seconds": dt, "words_per_s": n_total / dt,
                      "first_seconds": first, "first_words_per_s": n_total / first, "pieces": pieces,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        with open(sys.argv[2]) as fh:
            bench_generate(json.load(fh))
    else:
        sys.stderr.write("usage: cp_torch.py gen SPEC.json\n")
        sys.exit(2)
