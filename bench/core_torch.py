"""The PyTorch side of `npm run bench -- core`: forward+backward of a torch.nn.TransformerEncoder with the same
config as bench/core.ts, timed on this machine. Prints one JSON object.

Usage: /usr/bin/python3 bench/core_torch.py '{"d_model":256,"nhead":4,"num_layers":4,"dim_feedforward":1024,
        "batch":4,"seq":256,"activation":"relu","norm_first":false,"steps":3,"warmup":1,"threads":1}'
"""
import json
import sys
import time

import torch


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg.get("threads", 1))
    torch.manual_seed(0)
    d, B, T = cfg["d_model"], cfg["batch"], cfg["seq"]
    layer = torch.nn.TransformerEncoderLayer(d, cfg["nhead"], cfg["dim_feedforward"], dropout=0.0,
                                             activation=cfg["activation"], batch_first=True, norm_first=cfg["norm_first"])
    model = torch.nn.TransformerEncoder(layer, cfg["num_layers"], norm=torch.nn.LayerNorm(d), enable_nested_tensor=False)
    model.train()  # dropout is 0; train mode keeps autograd on the plain (non-fused) path, as the TS side
    x = torch.randn(B, T, d)
    w = torch.randn(B, T, d)

    def step():
        model.zero_grad(set_to_none=True)
        loss = (model(x) * w).mean()
        loss.backward()
        return loss.item()

    for _ in range(cfg.get("warmup", 1)):
        step()
    times = []
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    best = min(times)
    mean = sum(times) / len(times)
    print(json.dumps({
        "ms_per_step_mean": mean * 1000,
        "ms_per_step_best": best * 1000,
        "tokens_per_s": B * T / mean,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
