#!/usr/bin/env python3
"""Trains the event-report model: a small llama (transformers LlamaForCausalLM) on the corpus,
loss on target tokens only, bf16 autocast on the GPU, AdamW with warmup + cosine decay.

  python3 training/train.py --data data/train.jsonl --tokenizer data/tokenizer --out data/teacher

Saves a Hugging Face folder: config.json, model.safetensors (F32; tied embeddings, so no
lm_head.weight), tokenizer.json, tokenizer_config.json. The default size (6 layers, d=384, 6
heads with 2 KV heads, FFN 1024, vocab 4096: ~11M parameters) is justified in models/README.md.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
import data  # noqa: E402


def make_config(args, vocab_size, end_id, pad_id):
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=args.dim,
        intermediate_size=args.ff,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.dim // args.heads,
        max_position_embeddings=args.max_len,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=end_id,
        pad_token_id=pad_id,
    )


def masked_ce(logits, ids, mask):
    """Mean cross-entropy of next-token predictions where mask is 1 (fixed shapes: no boolean
    indexing, which would make every step's shape different)."""
    pred = logits[:, :-1].float()
    ce = F.cross_entropy(pred.reshape(-1, pred.size(-1)), ids[:, 1:].reshape(-1), reduction="none")
    return (ce * mask.reshape(-1)).sum() / mask.sum().clamp(min=1)


def save_hf(model, tokenizer_dir, out):
    if os.path.exists(out):
        shutil.rmtree(out)
    model = model.float()
    model.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))


def add_model_args(p, layers, dim, heads, kv_heads, ff):
    p.add_argument("--layers", type=int, default=layers)
    p.add_argument("--dim", type=int, default=dim)
    p.add_argument("--heads", type=int, default=heads)
    p.add_argument("--kv-heads", type=int, default=kv_heads)
    p.add_argument("--ff", type=int, default=ff)


def add_train_args(p, steps, lr, budget):
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-len", type=int, default=768)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--time-budget", type=float, default=budget,
                   help="seconds: fewer steps when the measured speed cannot fit --steps")
    p.add_argument("--limit", type=int, default=0, help="training lines to load (0 = all)")
    p.add_argument("--seed", type=int, default=0)


class StepPlan:
    """Total steps: --steps, cut after a measured warm-up to fit the time budget."""

    def __init__(self, steps, budget):
        self.total = steps
        self.budget = budget
        self.t0 = None

    def update(self, step):
        if step == 10:
            self.t0 = time.time()
        if step == 60 and self.budget > 0:
            per_step = (time.time() - self.t0) / 50
            fit = int(self.budget / per_step)
            if fit < self.total:
                print(f"  {per_step * 1000:.1f} ms/step: {self.total} steps do not fit "
                      f"{self.budget:.0f} s, training {fit}", flush=True)
                self.total = fit
            else:
                print(f"  {per_step * 1000:.1f} ms/step: {self.total} steps take about "
                      f"{self.total * per_step:.0f} s", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True)
    add_model_args(p, layers=6, dim=384, heads=6, kv_heads=2, ff=1024)
    add_train_args(p, steps=9000, lr=1e-3, budget=390)
    args = p.parse_args()

    data.seed_all(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    t_start = time.time()
    tok_path = os.path.join(args.tokenizer, "tokenizer.json")
    examples, dropped = data.load_examples(args.data, tok_path, args.max_len, args.limit)
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tok_path)
    end_id, pad_id = tok.token_to_id(contract.END), tok.token_to_id(contract.PAD)
    n_tokens = sum(len(e[0]) for e in examples)
    print(f"data: {len(examples)} examples ({dropped} longer than {args.max_len} dropped), "
          f"{n_tokens / len(examples):.0f} tokens on average, loaded in {time.time() - t_start:.0f} s",
          flush=True)

    config = make_config(args, tok.get_vocab_size(), end_id, pad_id)
    model = LlamaForCausalLM(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters ({args.layers} layers, d={args.dim}, "
          f"{args.heads} heads / {args.kv_heads} KV, FFN {args.ff}, vocab {config.vocab_size})", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            fused=device == "cuda")
    stream = data.batches(examples, args.batch, random.Random(args.seed), pad_id)
    plan = StepPlan(args.steps, args.time_budget)
    model.train()
    t_train = time.time()
    seen_tokens = 0
    step = 0
    while step < plan.total:
        ids, mask = next(stream)
        ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
        lr = data.lr_at(step, plan.total, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            logits = model(input_ids=ids).logits
        loss = masked_ce(logits, ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen_tokens += ids.numel()
        plan.update(step)
        if step % 250 == 0 or step == plan.total - 1:
            elapsed = time.time() - t_train
            print(f"step {step:5d}/{plan.total} loss {loss.item():.4f} lr {lr:.2e} "
                  f"{seen_tokens / max(elapsed, 1e-9) / 1e3:.0f}k tok/s {elapsed:.0f} s", flush=True)
        step += 1
    print(f"trained {step} steps, {seen_tokens / 1e6:.1f}M tokens in {time.time() - t_train:.0f} s",
          flush=True)
    model.eval()
    save_hf(model, args.tokenizer, args.out)
    with open(os.path.join(args.out, "training_args.json"), "w") as f:
        json.dump({**vars(args), "steps_done": step, "parameters": n_params,
                   "final_loss": float(loss.item())}, f, indent=2)
    print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()
