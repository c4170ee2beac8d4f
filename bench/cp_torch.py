"""The compound-word Transformer of src/cp/model.ts in plain PyTorch, for parity fixtures and the generation benchmark.

Same architecture and state_dict keys as annahung31/EMOPIA workspace/transformer/models.py (whose encoder is
idiap/fast-transformers). fast-transformers is not installable here, so its two attention paths are written out:
  - linear: feature map elu(x)+1, no softmax; training in the O(T^2) masked form (equal to fast-transformers'
    causal product), generation in the recurrent form with S = sum phi(k) v^T and z = sum phi(k), eps 1e-6;
  - softmax: causal masked softmax (scale 1/sqrt(dh)); generation with a key/value cache.

As a benchmark:  /usr/bin/python3 bench/cp_torch.py gen SPEC.json
SPEC.json: {"config": CPConfig as in config.json, "allowed": {type: {family: [indices]}}, "types": [type names],
            "typeAllowed": [type indices that may be sampled],
            "prime": [[8 ints], ...], "words": N, "seed": S, "sampling": {family: {"t": .., "p": ..|null}}}
Prints one JSON line: {"words": N, "seconds": s, "words_per_s": r, "threads": n, "torch": version}.
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILIES = ["tempo", "chord", "barbeat", "type", "pitch", "duration", "velocity", "emotion"]
EPS = 1e-6


class Embeddings(nn.Module):
    def __init__(self, n, e):
        super().__init__()
        self.lut = nn.Embedding(n, e)
        self.e = e

    def forward(self, x):
        return self.lut(x) * math.sqrt(self.e)


class PositionalEncoding(nn.Module):
    def __init__(self, d, max_len):
        super().__init__()
        pe = torch.zeros(max_len, d)
        pos = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe.unsqueeze(0))


def phi(x):
    return F.elu(x) + 1


class AttentionLayer(nn.Module):
    def __init__(self, d, h, kind):
        super().__init__()
        self.query_projection = nn.Linear(d, d)
        self.key_projection = nn.Linear(d, d)
        self.value_projection = nn.Linear(d, d)
        self.out_projection = nn.Linear(d, d)
        self.h, self.dh, self.kind = h, d // h, kind

    def forward(self, x):
        B, T, d = x.shape
        q = self.query_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)  # (B, h, T, dh)
        k = self.key_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        v = self.value_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        if self.kind == "linear":
            a = (phi(q) @ phi(k).transpose(-1, -2)) * causal  # (B, h, T, T)
            out = (a @ v) / (a.sum(-1, keepdim=True) + EPS)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)
            out = torch.softmax(s.masked_fill(~causal, float("-inf")), -1) @ v
        return self.out_projection(out.transpose(1, 2).reshape(B, T, d))

    def init_state(self, B):
        if self.kind == "linear":
            return (torch.zeros(B, self.h, self.dh, self.dh), torch.zeros(B, self.h, self.dh))
        return (None, None)

    def step(self, x, state):
        B, d = x.shape
        q = self.query_projection(x).view(B, self.h, self.dh)
        k = self.key_projection(x).view(B, self.h, self.dh)
        v = self.value_projection(x).view(B, self.h, self.dh)
        if self.kind == "linear":
            S, z = state
            fq, fk = phi(q), phi(k)
            S = S + fk.unsqueeze(-1) * v.unsqueeze(-2)  # (B, h, dh, dh)
            z = z + fk
            out = torch.einsum("bhi,bhij->bhj", fq, S) / (torch.einsum("bhi,bhi->bh", fq, z) + EPS).unsqueeze(-1)
            state = (S, z)
        else:
            K, V = state
            K = k.unsqueeze(2) if K is None else torch.cat([K, k.unsqueeze(2)], 2)  # (B, h, t, dh)
            V = v.unsqueeze(2) if V is None else torch.cat([V, v.unsqueeze(2)], 2)
            p = torch.softmax(torch.einsum("bhi,bhti->bht", q, K) / math.sqrt(self.dh), -1)
            out = torch.einsum("bht,bhti->bhi", p, V)
            state = (K, V)
        return self.out_projection(out.reshape(B, d)), state


class EncoderLayer(nn.Module):
    def __init__(self, d, h, ff, kind):
        super().__init__()
        self.attention = AttentionLayer(d, h, kind)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)

    def ff(self, x, a):
        x = self.norm1(x + a)
        return self.norm2(x + self.linear2(F.gelu(self.linear1(x))))

    def forward(self, x):
        return self.ff(x, self.attention(x))

    def step(self, x, state):
        a, state = self.attention.step(x, state)
        return self.ff(x, a), state


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(
            [EncoderLayer(cfg["dModel"], cfg["nHeads"], cfg["dFF"], cfg["attention"]) for _ in range(cfg["nLayers"])])
        self.norm = nn.LayerNorm(cfg["dModel"])


class CPModel(nn.Module):
    """Dropout is left out: fixtures and benchmarks run in eval mode."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["dModel"]
        for f in FAMILIES:
            setattr(self, "word_emb_" + f, Embeddings(cfg["nClasses"][f], cfg["embSizes"][f]))
        self.pos_emb = PositionalEncoding(d, cfg["maxLen"])
        self.in_linear = nn.Linear(sum(cfg["embSizes"][f] for f in FAMILIES), d)
        self.transformer_encoder = Encoder(cfg)
        self.project_concat_type = nn.Linear(d + cfg["embSizes"]["type"], d)
        for f in FAMILIES:
            setattr(self, "proj_" + f, nn.Linear(d, cfg["nClasses"][f]))

    def embed(self, words):  # (..., 8) -> (..., d)
        embs = [getattr(self, "word_emb_" + f)(words[..., i]) for i, f in enumerate(FAMILIES)]
        return self.in_linear(torch.cat(embs, -1))

    def hidden(self, words):  # (B, T, 8) -> (B, T, d)
        x = self.embed(words) + self.pos_emb.pe[:, : words.shape[1]]
        for layer in self.transformer_encoder.layers:
            x = layer(x)
        return self.transformer_encoder.norm(x)

    def given_type(self, h, typ):
        y = self.project_concat_type(torch.cat([h, self.word_emb_type(typ)], -1))
        return {f: getattr(self, "proj_" + f)(y) for f in FAMILIES if f != "type"}

    def forward_train(self, words, next_type):
        h = self.hidden(words)
        out = self.given_type(h, next_type)
        out["type"] = self.proj_type(h)
        return out

    def init_state(self, B):
        return [0, [layer.attention.init_state(B) for layer in self.transformer_encoder.layers]]

    def step(self, word, state):  # (B, 8) -> h (B, d)
        pos, states = state
        x = self.embed(word) + self.pos_emb.pe[0, pos]
        new = []
        for layer, s in zip(self.transformer_encoder.layers, states):
            x, s = layer.step(x, s)
            new.append(s)
        return self.transformer_encoder.norm(x), [pos + 1, new]


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
    rng = np.random.default_rng(spec["seed"])
    model = CPModel(spec["config"]).eval()
    allowed = {t: {f: np.array(v, dtype=np.int64) for f, v in fam.items()} for t, fam in spec["allowed"].items()}
    types = spec["types"]
    smp = spec["sampling"]
    all_types = np.array(spec.get("typeAllowed", list(range(len(types)))), dtype=np.int64)
    with torch.no_grad():
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
        dt = time.perf_counter() - t0
    n_total = n + len(spec["prime"])
    print(json.dumps({"words": n_total, "seconds": dt, "words_per_s": n_total / dt,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        with open(sys.argv[2]) as fh:
            bench_generate(json.load(fh))
    else:
        sys.stderr.write("usage: cp_torch.py gen SPEC.json\n")
        sys.exit(2)
