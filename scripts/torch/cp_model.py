"""The compound-word Transformer of src/cp/model.ts in plain PyTorch: the one Python copy of the model.

Same architecture and state_dict keys as annahung31/EMOPIA workspace/transformer/models.py (whose encoder is
idiap/fast-transformers), so `model.state_dict()` saved with torch.save is what `emopia import` reads and what
EMOPIA's own checkpoints hold. fast-transformers is not needed: its two attention paths are written out here:
  - linear: feature map elu(x)+1, no softmax; training in the masked O(T^2) form, or chunked (a running state
    S = sum phi(k) v^T and z = sum phi(k) across chunks) when the model is built with `chunk`; generation in
    the recurrent form; eps 1e-6 as fast-transformers;
  - softmax: causal masked softmax (scale 1/sqrt(dh)); generation with a key/value cache.
Dropout (cfg["dropout"]) acts after the positional encoding, the attention, the activation and the second
linear, in train() mode only, as in EMOPIA.

Users: bench/cp_torch.py (generation benchmark), bench/cp_train_torch.py (training benchmark),
scripts/fixtures/cp_model.py and scripts/fixtures/torch_checkpoint.py (parity fixtures), scripts/torch/train_ddp.py.
Needs only torch (Debian's python3-torch); optional for the project, which never needs Python at run time.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILIES = ["tempo", "chord", "barbeat", "type", "pitch", "duration", "velocity", "emotion"]
EPS = 1e-6

# The architectures of src/cp/config.ts PRESETS (the class counts come from the vocabulary).
PRESETS = {
    "emopia": dict(embSizes=[128, 256, 64, 32, 512, 128, 128, 128], dModel=512, nLayers=12, nHeads=8, dFF=2048,
                   dropout=0.1, attention="linear", maxLen=20000, chunkSize=128, emotionInput="first"),
    "small": dict(embSizes=[64, 128, 32, 16, 256, 64, 64, 64], dModel=256, nLayers=4, nHeads=4, dFF=1024,
                  dropout=0.1, attention="linear", maxLen=8192, chunkSize=128, emotionInput="first"),
    "tiny": dict(embSizes=[8, 16, 8, 4, 16, 8, 8, 8], dModel=32, nLayers=2, nHeads=2, dFF=64,
                 dropout=0.1, attention="linear", maxLen=1024, chunkSize=16, emotionInput="first"),
}


def make_config(preset, n_classes):
    """A CPConfig dict (as config.json holds it) from a preset name and the class count of each family."""
    p = dict(PRESETS[preset])
    p["embSizes"] = dict(zip(FAMILIES, p["embSizes"]))
    p["nClasses"] = dict(zip(FAMILIES, [int(n) for n in n_classes]))
    return p


class Embeddings(nn.Module):
    def __init__(self, n, e):
        super().__init__()
        self.lut = nn.Embedding(n, e)
        self.e = e

    def forward(self, x):  # (...) -> (..., e)
        return self.lut(x) * math.sqrt(self.e)


class PositionalEncoding(nn.Module):
    def __init__(self, d, max_len):
        super().__init__()
        pe = torch.zeros(max_len, d)
        pos = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe.unsqueeze(0))  # (1, max_len, d)


def phi(x):
    return F.elu(x) + 1


def chunked_linear_attention(fq, fk, v, chunk, eps=EPS):
    """fq, fk: phi(q), phi(k) (B, h, T, dh); v (B, h, T, dv) -> (B, h, T, dv), causal, never (B,h,T,dh,dv)."""
    B, h, T, dh = fq.shape
    outs = []
    S = fq.new_zeros(B, h, dh, v.shape[-1])  # (B, h, dh, dv)
    z = fq.new_zeros(B, h, dh)  # (B, h, dh)
    for s in range(0, T, chunk):
        q, k, vc = fq[:, :, s:s + chunk], fk[:, :, s:s + chunk], v[:, :, s:s + chunk]
        n = q.shape[2]
        a = (q @ k.transpose(-1, -2)) * torch.tril(torch.ones(n, n, device=q.device))  # (B, h, n, n)
        num = a @ vc + q @ S  # (B, h, n, dv)
        den = a.sum(-1) + (q * z.unsqueeze(2)).sum(-1)  # (B, h, n)
        outs.append(num / (den.unsqueeze(-1) + eps))
        S = S + k.transpose(-1, -2) @ vc
        z = z + k.sum(2)
    return torch.cat(outs, 2)  # (B, h, T, dv)


class AttentionLayer(nn.Module):
    def __init__(self, d, h, kind, chunk=None):
        super().__init__()
        self.query_projection = nn.Linear(d, d)
        self.key_projection = nn.Linear(d, d)
        self.value_projection = nn.Linear(d, d)
        self.out_projection = nn.Linear(d, d)
        self.h, self.dh, self.kind, self.chunk = h, d // h, kind, chunk

    def forward(self, x):  # (B, T, d) -> (B, T, d)
        B, T, d = x.shape
        q = self.query_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)  # (B, h, T, dh)
        k = self.key_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        v = self.value_projection(x).view(B, T, self.h, self.dh).transpose(1, 2)
        if self.kind == "linear" and self.chunk:
            out = chunked_linear_attention(phi(q), phi(k), v, self.chunk)
        else:
            causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))  # (T, T), true = allowed
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

    def step(self, x, state):  # (B, d) -> (B, d)
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
    """fast-transformers' post-norm layer: x = norm1(x + drop(attn)); out = norm2(x + drop(linear2(drop(gelu(linear1)))))."""

    def __init__(self, d, h, ff, kind, dropout=0.0, chunk=None):
        super().__init__()
        self.attention = AttentionLayer(d, h, kind, chunk)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def ff(self, x, a):
        x = self.norm1(x + self.dropout(a))
        return self.norm2(x + self.dropout(self.linear2(self.dropout(F.gelu(self.linear1(x))))))

    def forward(self, x):
        return self.ff(x, self.attention(x))

    def step(self, x, state):
        a, state = self.attention.step(x, state)
        return self.ff(x, a), state


class Encoder(nn.Module):
    def __init__(self, cfg, chunk=None):
        super().__init__()
        self.layers = nn.ModuleList([
            EncoderLayer(cfg["dModel"], cfg["nHeads"], cfg["dFF"], cfg["attention"], cfg.get("dropout", 0.0), chunk)
            for _ in range(cfg["nLayers"])])
        self.norm = nn.LayerNorm(cfg["dModel"])


class CPModel(nn.Module):
    """EMOPIA's CP model from a CPConfig dict. `chunk`: chunk length of the training-time linear attention."""

    def __init__(self, cfg, chunk=None):
        super().__init__()
        d = cfg["dModel"]
        for f in FAMILIES:
            setattr(self, "word_emb_" + f, Embeddings(cfg["nClasses"][f], cfg["embSizes"][f]))
        self.pos_emb = PositionalEncoding(d, cfg["maxLen"])
        self.in_linear = nn.Linear(sum(cfg["embSizes"][f] for f in FAMILIES), d)
        self.transformer_encoder = Encoder(cfg, chunk)
        self.project_concat_type = nn.Linear(d + cfg["embSizes"]["type"], d)
        for f in FAMILIES:
            setattr(self, "proj_" + f, nn.Linear(d, cfg["nClasses"][f]))
        self.drop = nn.Dropout(cfg.get("dropout", 0.0))

    def embed(self, words):  # (..., 8) -> (..., d)
        embs = [getattr(self, "word_emb_" + f)(words[..., i]) for i, f in enumerate(FAMILIES)]
        return self.in_linear(torch.cat(embs, -1))

    def hidden(self, words):  # (B, T, 8) -> (B, T, d)
        x = self.drop(self.embed(words) + self.pos_emb.pe[:, : words.shape[1]])
        for layer in self.transformer_encoder.layers:
            x = layer(x)
        return self.transformer_encoder.norm(x)

    def given_type(self, h, typ):  # h (..., d), typ (...) -> {family: (..., n_f)} for the seven other families
        y = self.project_concat_type(torch.cat([h, self.word_emb_type(typ)], -1))
        return {f: getattr(self, "proj_" + f)(y) for f in FAMILIES if f != "type"}

    def forward_train(self, words, next_type):  # (B, T, 8), (B, T) -> {family: (B, T, n_f)}
        h = self.hidden(words)
        out = self.given_type(h, next_type)
        out["type"] = self.proj_type(h)
        return out

    def forward(self, words, next_type):  # what nn.Module (and DDP) calls
        return self.forward_train(words, next_type)

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


def cp_loss(logits, y, mask):
    """EMOPIA's loss: per family, cross-entropy times the loss mask over the mask's sum; the mean of the eight."""
    losses = []
    for i, f in enumerate(FAMILIES):
        ce = F.cross_entropy(logits[f].flatten(0, 1), y[..., i].flatten(), reduction="none").view(mask.shape)
        losses.append((ce * mask).sum() / mask.sum())
    return sum(losses) / len(FAMILIES), losses
