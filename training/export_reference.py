#!/usr/bin/env python3
"""Reference logits for the engine-vs-PyTorch test (|our logits - these| <= 1e-3).

  python3 training/export_reference.py --teacher T --draft D --heldout heldout.jsonl --out DIR

For one fixed token sequence (the first held-out prompt followed by its reference report,
truncated to --tokens), computes the F32 logits of each model on the CPU in float32 (eager
attention, no TF32) and writes, for every --every-th position and the last one:
  DIR/reference.json   {"tokens": [...], "positions": [...], "n_vocab": V, "text": ...,
                        "models": {"teacher": "teacher_logits.f32", "draft": "draft_logits.f32"}}
  DIR/<model>_logits.f32  little-endian float32, [len(positions)][n_vocab]
plus, for the shipped GGUFs, DIR/<model>_q8_0_logits.f32: the same model with every matrix
(every 2-D weight: what `vigil quantize --type q8_0` stores as Q8_0) replaced by its Q8_0 round
trip (blocks of 32, scale amax/127 stored as f16, round half away from zero: ggml's reference
quantizer), so the test can check our engine on models/*.gguf themselves, which are in the
repository, against PyTorch; and DIR/tokenizer_cases.jsonl: texts and the ids `tokenizers`
gives them (for checking our C++ tokenizer on the same texts). Everything stays under 1 MB.
"""

import argparse
import json
import os
import struct
import sys

import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402


def q8_0_round_trip(w):
    """Q8_0 quantize + dequantize of a float32 matrix along its rows (ggml's reference)."""
    rows, cols = w.shape
    assert cols % 32 == 0, f"row length {cols} is not a multiple of 32"
    x = w.reshape(rows, cols // 32, 32).float()
    amax = x.abs().amax(dim=-1, keepdim=True)
    d = amax / 127.0
    inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    v = x * inv
    q = torch.sign(v) * torch.floor(v.abs() + 0.5)  # roundf: half away from zero
    d16 = d.half().float()
    return (q * d16).reshape(rows, cols)


def logits_of(model_dir, tokens, q8_0=False):
    model = LlamaForCausalLM.from_pretrained(model_dir, attn_implementation="eager").float()
    model.eval()
    with torch.no_grad():
        if q8_0:
            seen = set()
            for name, param in model.named_parameters():
                if param.dim() == 2 and param.data_ptr() not in seen:  # tied weights once
                    seen.add(param.data_ptr())
                    param.copy_(q8_0_round_trip(param))
        out = model(input_ids=torch.tensor([tokens], dtype=torch.long)).logits[0]
    return out.float()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True)
    p.add_argument("--draft", default="", help="(omit to export the teacher only)")
    p.add_argument("--heldout", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tokens", type=int, default=96)
    p.add_argument("--every", type=int, default=12)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(4)

    tok = Tokenizer.from_file(os.path.join(args.teacher, "tokenizer.json"))
    with open(args.heldout, encoding="utf-8") as f:
        items = [json.loads(next(f)) for _ in range(20)]
    text = items[0]["prompt"] + items[0]["reference"] + contract.END
    tokens = tok.encode(text).ids[: args.tokens]
    positions = list(range(0, len(tokens), args.every))
    if positions[-1] != len(tokens) - 1:
        positions.append(len(tokens) - 1)
    os.makedirs(args.out, exist_ok=True)
    meta = {"tokens": tokens, "positions": positions, "n_vocab": tok.get_vocab_size(),
            "text": tok.decode(tokens, skip_special_tokens=False), "models": {},
            "tolerance": 1e-3}
    models = [("teacher", args.teacher)] + ([("draft", args.draft)] if args.draft else [])
    for name, model_dir in models:
        for q8_0 in (False, True):
            key = f"{name}_q8_0" if q8_0 else name
            logits = logits_of(model_dir, tokens, q8_0=q8_0)
            rows = logits[positions]
            path = f"{key}_logits.f32"
            with open(os.path.join(args.out, path), "wb") as f:
                f.write(struct.pack(f"<{rows.numel()}f", *rows.flatten().tolist()))
            meta["models"][key] = path
            meta[f"{key}_argmax"] = logits.argmax(-1).tolist()
            print(f"{key}: logits {tuple(rows.shape)} -> {path}", flush=True)
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False)

    cases = [items[i]["prompt"] for i in range(5)] + [items[i]["reference"] for i in range(5)]
    cases += ["", " ", "  leading spaces", "Dock 3 at 14:03:22.\n- a\tb", "Café 倉庫 🚚 Ä",
              contract.FACTS + "{}" + contract.ANSWER + "0 events." + contract.END]
    with open(os.path.join(args.out, "tokenizer_cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps({"text": c, "ids": tok.encode(c).ids}, ensure_ascii=False) + "\n")
    print(f"reference written to {args.out}", flush=True)


if __name__ == "__main__":
    main()
