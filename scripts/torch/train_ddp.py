"""Trains the compound-word Transformer (scripts/torch/cp_model.py) with PyTorch DistributedDataParallel on an
exported dataset, and writes a checkpoint that `emopia import` reads.

One process per device, started by torchrun (gloo on CPU, nccl on GPUs). On one machine:
    emopia dataset export data/emopia -o emopia.npz
    torchrun --nproc_per_node 2 scripts/torch/train_ddp.py --data emopia.npz --vocab data/emopia/vocab.json \
        --preset small --steps 2000 --out runs/torch-small
    emopia import runs/torch-small/model.pt --config runs/torch-small/config.json \
        --vocab runs/torch-small/vocab.json -o runs/small-from-torch
On N machines with G GPUs each, the same command on every machine with
    torchrun --nnodes N --nproc_per_node G --node_rank R --master_addr HOST0 --master_port 29500 ...
(or --rdzv_backend c10d --rdzv_endpoint HOST0:29500); the dataset file must be readable on every machine, and
only global rank 0 writes --out.

Training follows EMOPIA's main_cp.py step: teacher forcing (the true next type feeds the second head), the loss
masked per family and averaged over the eight, clip_grad_norm_ at 3, Adam; plus our schedule (linear warm-up,
then inverse square root, as src/cp/train). Each process draws its own batches from its shard of the clips
(DistributedSampler, reshuffled every epoch from --seed); DDP averages the gradients, so every process holds the
same weights. --batch is per process: the global batch is batch x world size. Batches are cut to their longest
clip (causal attention makes the padding irrelevant to the real positions).

Writes into --out (rank 0, each file through a temporary name): model.pt (the bare state dict, EMOPIA's names, as
EMOPIA saves it), config.json (our CPConfig), vocab.json (a copy of --vocab) and log.jsonl (one line per step).
--check-grads compares the gradients of all processes after each all-reduce and prints the largest difference.
--dump-logits FILE writes the trained model's teacher-forced logits on the first clip's first 32 words (eval mode),
for a parity check after import.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_model import FAMILIES, PRESETS, CPModel, cp_loss, make_config  # noqa: E402

TYPE = FAMILIES.index("type")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help=".npz written by `emopia dataset export` (x, y, mask, seq_len, num_groups)")
    ap.add_argument("--vocab", required=True, help="the dataset's vocab.json (class counts; copied into --out)")
    ap.add_argument("--out", required=True, help="folder for model.pt, config.json, vocab.json, log.jsonl")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS), help="architecture (class counts come from --vocab)")
    ap.add_argument("--config", help="our config.json instead of --preset (its class counts must match --vocab)")
    ap.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    ap.add_argument("--batch", type=int, default=4, help="clips per process per step")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
    ap.add_argument("--warmup", type=int, default=200, help="steps of linear warm-up, then inverse square root")
    ap.add_argument("--seed", type=int, default=42069)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--check-grads", action="store_true", help="compare gradients across processes every step")
    ap.add_argument("--dump-logits", help="write the final model's logits on the first clip (JSON)")
    return ap.parse_args()


def log0(*a):
    if dist.get_rank() == 0:
        print(*a, flush=True)


def save_atomic(path, write):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    write(tmp)
    os.replace(tmp, path)


def write_outputs(args, cfg, model):
    os.makedirs(args.out, exist_ok=True)
    save_atomic(os.path.join(args.out, "model.pt"), lambda p: torch.save(model.state_dict(), p))
    save_atomic(os.path.join(args.out, "config.json"), lambda p: json.dump(cfg, open(p, "w"), indent=2))
    save_atomic(os.path.join(args.out, "vocab.json"), lambda p: shutil.copyfile(args.vocab, p))


def grad_spread(model):
    """Largest difference between this process's gradients and rank 0's (all ranks take part)."""
    flat = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    ref = flat.clone()
    dist.broadcast(ref, 0)
    d = (flat - ref).abs().max()
    dist.all_reduce(d, op=dist.ReduceOp.MAX)
    return d.item()


def main():
    args = parse_args()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)

    vocab = json.load(open(args.vocab))
    n_classes = [len(vocab["values"][f]) for f in FAMILIES]
    if args.config:
        cfg = json.load(open(args.config))
        if [cfg["nClasses"][f] for f in FAMILIES] != n_classes:
            sys.exit("train_ddp: %s has class counts %s, %s has %s" % (args.config, cfg["nClasses"], args.vocab, n_classes))
    else:
        cfg = make_config(args.preset, n_classes)
    data = np.load(args.data)
    missing = [k for k in ("x", "y", "mask", "seq_len") if k not in data.files]
    if missing:
        sys.exit("train_ddp: %s is not an export of `emopia dataset export` (missing %s)" % (args.data, ", ".join(missing)))
    x = torch.from_numpy(data["x"]).long()  # (N, L, 8)
    y = torch.from_numpy(data["y"]).long()  # (N, L, 8)
    mask = torch.from_numpy(data["mask"]).float()  # (N, L)
    seq_len = torch.from_numpy(data["seq_len"]).long()  # (N,)
    if x.shape[1] > cfg["maxLen"]:
        sys.exit("train_ddp: sequences of %d words, the model's maxLen is %d (export with --max-len)" % (x.shape[1], cfg["maxLen"]))
    for i, f in enumerate(FAMILIES):
        if int(x[..., i].max()) >= n_classes[i] or int(y[..., i].max()) >= n_classes[i]:
            sys.exit("train_ddp: family %s has an index beyond the vocabulary's %d values" % (f, n_classes[i]))

    dataset = TensorDataset(x, y, mask, seq_len)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=args.seed, drop_last=False)
    model = CPModel(cfg, chunk=cfg.get("chunkSize")).to(device)
    ddp = DDP(model, device_ids=[local] if cuda else None)
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    log0("train_ddp: %d processes (%s), %d clips, %d parameters, global batch %d" % (
        world, "nccl" if cuda else "gloo", len(dataset), n_params, args.batch * world))

    epoch, it, step = 0, None, 0
    t0 = time.time()
    log = []
    ddp.train()
    while step < args.steps:
        if it is None:
            sampler.set_epoch(epoch)
            order = list(sampler)
            it = iter([order[i:i + args.batch] for i in range(0, len(order), args.batch)])
        idx = next(it, None)
        if idx is None:
            it, epoch = None, epoch + 1
            continue
        bx, by, bm, bl = dataset[idx]
        T = int(bl.max())  # cut the batch to its longest clip
        bx, by, bm = bx[:, :T].to(device), by[:, :T].to(device), bm[:, :T].to(device)
        lr = args.lr * min((step + 1) / max(args.warmup, 1), math.sqrt(max(args.warmup, 1) / (step + 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        logits = ddp(bx, by[..., TYPE])  # CPModel.forward = forward_train
        loss, _ = cp_loss(logits, by, bm)
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients of all processes here
        spread = grad_spread(ddp.module) if args.check_grads else None
        torch.nn.utils.clip_grad_norm_(ddp.parameters(), 3.0)
        opt.step()
        step += 1
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        row = {"step": step, "loss": mean_loss.item() / world, "lr": lr, "seconds": time.time() - t0}
        if spread is not None:
            row["grad_spread"] = spread
        log.append(row)
        log0(json.dumps(row))
        if rank == 0 and (step % args.save_every == 0 or step == args.steps):
            write_outputs(args, cfg, model)
            save_atomic(os.path.join(args.out, "log.jsonl"), lambda p: open(p, "w").write("".join(json.dumps(r) + "\n" for r in log)))
    if rank == 0 and args.dump_logits:
        model.eval()
        n = min(32, int(seq_len[0]))
        with torch.no_grad():
            out = model.forward_train(x[:1, :n].to(device), y[:1, :n, TYPE].to(device))
        json.dump({"words": x[0, :n].tolist(), "next_type": y[0, :n, TYPE].tolist(),
                   "logits": {f: out[f][0].cpu().tolist() for f in FAMILIES}}, open(args.dump_logits, "w"))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
