"""Tokenized training data for train.py and distill.py (needs torch and tokenizers)."""

import json
import random

import torch
from tokenizers import Tokenizer


def load_examples(path, tokenizer_path, max_len, limit=0):
    """[(ids, n_prompt)]: prompt + target token ids and where the target starts."""
    tok = Tokenizer.from_file(tokenizer_path)
    prompts, targets = [], []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            item = json.loads(line)
            prompts.append(item["prompt"])
            targets.append(item["target"])
    p_ids = tok.encode_batch(prompts)
    t_ids = tok.encode_batch(targets)
    examples, dropped = [], 0
    for p, t in zip(p_ids, t_ids):
        ids = p.ids + t.ids
        if len(ids) > max_len:
            dropped += 1
            continue
        examples.append((ids, len(p.ids)))
    return examples, dropped


def batches(examples, batch_size, rng, pad_id):
    """Endless length-bucketed batches: (ids [B,T] long, loss mask [B,T-1] float 0/1).

    The mask marks positions whose next token is a target token (prompt tokens carry no loss).
    """
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        chunk = batch_size * 64
        groups = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s:s + chunk], key=lambda i: len(examples[i][0]))
            groups += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
        rng.shuffle(groups)
        for g in groups:
            if len(g) < batch_size // 2:
                continue
            # Lengths rounded up to a multiple of 64: a handful of distinct shapes (every new
            # shape costs the GPU kernels a slow first step; measured 170 vs 23 ms per step).
            t = -(-max(len(examples[i][0]) for i in g) // 64) * 64
            ids = torch.full((len(g), t), pad_id, dtype=torch.long)
            mask = torch.zeros((len(g), t - 1), dtype=torch.float32)
            for row, i in enumerate(g):
                seq, n_prompt = examples[i]
                ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[row, n_prompt - 1:len(seq) - 1] = 1.0
            yield ids, mask


def lr_at(step, total, peak, warmup, floor=0.1):
    """Linear warmup, cosine decay to floor * peak."""
    import math
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def seed_all(seed):
    random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
