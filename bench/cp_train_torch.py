"""Training-speed reference for `npm run bench -- train`: the compound-word Transformer of src/cp/model.ts in
plain PyTorch (the model of bench/cp_torch.py, plus dropout as in training), trained with EMOPIA's step:
masked cross-entropy per family averaged over the eight families, backward, clip_grad_norm_(3), Adam.

Linear attention is written in the chunked causal form (within a chunk the masked phi(Q)phi(K)^T V, across
chunks a running state S and z), as src/cp/attention.ts does, since fast-transformers' CUDA/C++ kernels
cannot be installed here; softmax attention is causal masked softmax.

Usage:  /usr/bin/python3 bench/cp_train_torch.py SPEC.json
SPEC.json: {"config": CPConfig as in config.json, "batch": B, "seq": T, "steps": N, "warmup": W, "seed": S}
Prints one JSON line: {"words_per_s": r, "seconds_per_step": s, "steps": N, "threads": n, "torch": version}.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp_torch as ref  # noqa: E402

FAMILIES = ref.FAMILIES
TYPE = FAMILIES.index("type")


def chunked_linear_attention(fq, fk, v, chunk, eps=ref.EPS):
    """fq, fk: phi(q), phi(k) (B, h, T, dh); v (B, h, T, dv) -> (B, h, T, dv), causal, never (B,h,T,dh,dv)."""
    B, h, T, dh = fq.shape
    outs = []
    S = fq.new_zeros(B, h, dh, v.shape[-1])
    z = fq.new_zeros(B, h, dh)
    for s in range(0, T, chunk):
        q, k, vc = fq[:, :, s:s + chunk], fk[:, :, s:s + chunk], v[:, :, s:s + chunk]
        n = q.shape[2]
        a = (q @ k.transpose(-1, -2)) * torch.tril(torch.ones(n, n))  # (B, h, n, n)
        num = a @ vc + q @ S  # (B, h, n, dv)
        den = a.sum(-1) + (q * z.unsqueeze(2)).sum(-1)  # (B, h, n)
        outs.append(num / (den.unsqueeze(-1) + eps))
        S = S + k.transpose(-1, -2) @ vc
        z = z + k.sum(2)
    return torch.cat(outs, 2)


class TrainAttention(ref.AttentionLayer):
    def __init__(self, d, h, kind, chunk):
        super().__init__(d, h, kind)
        self.chunk = chunk

    def forward(self, x):
        if self.kind != "linear":
            return super().forward(x)
        B, T, d = x.shape
        q = self.query_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)  # (B, h, T, dh)
        k = self.key_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        v = self.value_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        out = chunked_linear_attention(ref.phi(q), ref.phi(k), v, self.chunk)
        return self.out_projection(out.transpose(1, 2).reshape(B, T, d))


class TrainLayer(ref.EncoderLayer):
    """Post-norm layer with dropout after the attention, the activation and the second linear."""

    def __init__(self, cfg):
        super().__init__(cfg["dModel"], cfg["nHeads"], cfg["dFF"], cfg["attention"])
        self.attention = TrainAttention(cfg["dModel"], cfg["nHeads"], cfg["attention"], cfg["chunkSize"])
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        x = self.norm1(x + self.drop(self.attention(x)))
        return self.norm2(x + self.drop(self.linear2(self.drop(F.gelu(self.linear1(x))))))


class TrainModel(ref.CPModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.transformer_encoder.layers = nn.ModuleList([TrainLayer(cfg) for _ in range(cfg["nLayers"])])
        self.drop = nn.Dropout(cfg["dropout"])

    def hidden(self, words):
        x = self.drop(self.embed(words) + self.pos_emb.pe[:, : words.shape[1]])
        for layer in self.transformer_encoder.layers:
            x = layer(x)
        return self.transformer_encoder.norm(x)


def main(spec):
    torch.manual_seed(spec["seed"])
    cfg = spec["config"]
    B, T = spec["batch"], spec["seq"]
    model = TrainModel(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(spec["seed"])
    words = torch.stack([torch.randint(0, cfg["nClasses"][f], (B, T + 1), generator=g) for f in FAMILIES], -1)  # (B, T+1, 8)
    x, y = words[:, :-1], words[:, 1:]
    mask = torch.ones(B, T)

    def step():
        logits = model.forward_train(x, y[..., TYPE])  # the true next type feeds the second head
        losses = []
        for i, f in enumerate(FAMILIES):
            ce = F.cross_entropy(logits[f].reshape(B * T, -1), y[..., i].reshape(-1), reduction="none").view(B, T)
            losses.append((ce * mask).sum() / mask.sum())
        loss = sum(losses) / len(FAMILIES)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        return loss.item()

    for _ in range(spec["warmup"]):
        step()
    t0 = time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    dt = (time.perf_counter() - t0) / spec["steps"]
    print(json.dumps({"words_per_s": B * T / dt, "seconds_per_step": dt, "steps": spec["steps"],
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: cp_train_torch.py SPEC.json\n")
        sys.exit(2)
    with open(sys.argv[1]) as fh:
        main(json.load(fh))
