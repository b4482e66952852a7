#!/usr/bin/env python3
"""Distils the draft model for speculative decoding: a 2-layer llama with the teacher's
tokenizer, trained on the teacher's logits (KL(teacher || student) at temperature T, plus
cross-entropy on the corpus targets), on target positions only (the only ones it drafts).

  python3 training/distill.py --teacher data/teacher --data data/train.jsonl --out data/draft

Saves a Hugging Face folder like train.py (F32, tied embeddings).
"""

import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import train  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True)
    train.add_model_args(p, layers=2, dim=256, heads=4, kv_heads=2, ff=768)
    train.add_train_args(p, steps=5000, lr=1.5e-3, budget=150)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--alpha", type=float, default=0.7, help="weight of the KL term (CE gets 1 - alpha)")
    args = p.parse_args()

    data.seed_all(args.seed + 1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    teacher = LlamaForCausalLM.from_pretrained(args.teacher).float().to(device)
    teacher.eval()
    for q in teacher.parameters():
        q.requires_grad_(False)
    tc = teacher.config
    tok_path = os.path.join(args.teacher, "tokenizer.json")
    examples, dropped = data.load_examples(args.data, tok_path, args.max_len, args.limit)
    print(f"data: {len(examples)} examples ({dropped} dropped)", flush=True)

    config = train.make_config(args, tc.vocab_size, tc.eos_token_id, tc.pad_token_id)
    student = LlamaForCausalLM(config).to(device)
    n_params = sum(q.numel() for q in student.parameters())
    print(f"draft: {n_params / 1e6:.2f}M parameters ({args.layers} layers, d={args.dim})", flush=True)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, betas=(0.9, 0.95),
                            weight_decay=args.weight_decay, fused=device == "cuda")
    stream = data.batches(examples, args.batch, random.Random(args.seed + 1), tc.pad_token_id)
    plan = train.StepPlan(args.steps, args.time_budget)
    student.train()
    t0 = time.time()
    temp = args.temperature
    step = 0
    while step < plan.total:
        ids, mask = next(stream)
        ids, mask = ids.to(device), mask.to(device)
        lr = data.lr_at(step, plan.total, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            with torch.no_grad():
                t_logits = teacher(input_ids=ids).logits[:, :-1].float()
            s_logits = student(input_ids=ids).logits[:, :-1].float()
        m = mask.reshape(-1)
        denom = m.sum().clamp(min=1)
        t_logp = F.log_softmax(t_logits / temp, dim=-1)
        s_logp = F.log_softmax(s_logits / temp, dim=-1)
        kl_pos = (t_logp.exp() * (t_logp - s_logp)).sum(-1).reshape(-1)  # KL(teacher || student)
        kl = (kl_pos * m).sum() / denom * temp * temp
        ce_pos = F.cross_entropy(s_logits.reshape(-1, s_logits.size(-1)), ids[:, 1:].reshape(-1),
                                 reduction="none")
        ce = (ce_pos * m).sum() / denom
        loss = args.alpha * kl + (1 - args.alpha) * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        plan.update(step)
        if step % 250 == 0 or step == plan.total - 1:
            with torch.no_grad():
                same = (s_logits.argmax(-1) == t_logits.argmax(-1)).float().reshape(-1)
                agree = ((same * m).sum() / denom).item()
            print(f"step {step:5d}/{plan.total} kl {kl.item():.4f} ce {ce.item():.4f} "
                  f"top1 agreement {agree:.3f} lr {lr:.2e} {time.time() - t0:.0f} s", flush=True)
        step += 1
    student.eval()
    train.save_hf(student, args.teacher, args.out)
    with open(os.path.join(args.out, "training_args.json"), "w") as f:
        json.dump({**vars(args), "steps_done": step, "parameters": n_params,
                   "final_kl": float(kl.item()), "final_ce": float(ce.item())}, f, indent=2)
    print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()
