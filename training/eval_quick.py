#!/usr/bin/env python3
"""Quick greedy evaluation in PyTorch (the real one is `vigil eval-reports`, our engine):
generates reports for N held-out items and prints fact recall and hallucination rate with the
same rules (factcheck.py).

  python3 training/eval_quick.py --model data/teacher --heldout data/heldout.jsonl -n 200
"""

import argparse
import json
import os
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
import factcheck  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--vocab", default="", help="default: vocab.json next to the held-out set")
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--max-new", type=int, default=200)
    p.add_argument("--show", type=int, default=3, help="print this many reports")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    vocab_path = args.vocab or os.path.join(os.path.dirname(os.path.abspath(args.heldout)), "vocab.json")
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(args.heldout, encoding="utf-8") as f:
        items = [json.loads(line) for _, line in zip(range(args.n), f)]
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    end_id, pad_id = tok.token_to_id(contract.END), tok.token_to_id(contract.PAD)
    model = LlamaForCausalLM.from_pretrained(args.model).float().to(device).eval()

    t0 = time.time()
    reports = []
    for s in range(0, len(items), args.batch):
        chunk = items[s:s + args.batch]
        encoded = [tok.encode(it["prompt"]).ids for it in chunk]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        att = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, e in enumerate(encoded):  # left padding for batched generation
            ids[r, width - len(e):] = torch.tensor(e)
            att[r, width - len(e):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(device), attention_mask=att.to(device),
                                 max_new_tokens=args.max_new, do_sample=False,
                                 eos_token_id=end_id, pad_token_id=pad_id)
        for r in range(len(chunk)):
            gen = out[r, width:].tolist()
            if end_id in gen:
                gen = gen[:gen.index(end_id)]
            reports.append(tok.decode([g for g in gen if g != pad_id], skip_special_tokens=True))
    seconds = time.time() - t0

    groups = {}
    for it, report in zip(items, reports):
        group = "burst" if len(it["events"]) > 1 else it["events"][0]["type"]
        res = factcheck.check(report, it["request"], vocab)
        checked = sum(1 for e in res["facts"] for v in e.values() if v is not None)
        found = sum(1 for e in res["facts"] for v in e.values() if v)
        for g in (group, "all"):
            acc = groups.setdefault(g, [0, 0, 0, 0])
            acc[0] += 1
            acc[1] += checked
            acc[2] += found
            acc[3] += 1 if res["hallucinations"] else 0
    name = os.path.basename(os.path.normpath(args.model))
    for g in sorted(groups, key=lambda k: (k == "all", k)):
        n, checked, found, bad = groups[g]
        print(f"{name:8s} {g:14s} items {n:4d} fact recall {100 * found / max(checked, 1):6.2f}% "
              f"hallucination {100 * bad / n:6.2f}%")
    print(f"{name}: {len(items)} reports in {seconds:.1f} s")
    for it, report in list(zip(items, reports))[: args.show]:
        print(f"  prompt:    {it['prompt']}\n  generated: {report}\n  reference: {it['reference']}")


if __name__ == "__main__":
    main()
