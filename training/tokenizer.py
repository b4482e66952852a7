#!/usr/bin/env python3
"""Trains the byte-level BPE tokenizer of the report model with Hugging Face `tokenizers`.

  python3 training/tokenizer.py --data data/train.jsonl --out data/tokenizer --vocab-size 4096

GPT-2 style: ByteLevel pre-tokenizer (add_prefix_space=False, GPT-2 split regex) and decoder, no
normalizer, no post-processor (no BOS/EOS added). The special tokens <|facts|> <|report|>
<|answer|> <|end|> <|pad|> are added tokens with ids 0-4. Writes tokenizer.json and
tokenizer_config.json (eos <|end|>, pad <|pad|>, no bos), the two files our C++ loader
(src/llm/tokenizer/load_hf.cpp) reads.

Vocabulary size 4096: the corpus is a closed world (JSON keys, ~250 template words, zone/site
names, digits), which 4k merges cover with whole-word tokens, so sequences stay short (faster
training and prefill); the embedding table stays 4096 x d (1.6M parameters at d=384, 10% of the
teacher) instead of dominating a small model as a 32k vocabulary would.
"""

import argparse
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402


def texts(path, limit):
    """Prompt and target texts with the special tokens cut out (they are added tokens)."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            item = json.loads(line)
            text = item["prompt"] + item["target"]
            for tok in contract.SPECIAL_TOKENS:
                text = text.replace(tok, "\n")
            yield text


def build(data, vocab_size, limit):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(contract.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts(data, limit), trainer=trainer)
    return tok


def save(tok, out):
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 1024,
        "bos_token": None,
        "eos_token": contract.END,
        "pad_token": contract.PAD,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "additional_special_tokens": [contract.FACTS, contract.REPORT, contract.ANSWER],
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)


def check(tok):
    """The structure our C++ loader needs, and a round trip."""
    for i, special in enumerate(contract.SPECIAL_TOKENS):
        assert tok.token_to_id(special) == i, (special, tok.token_to_id(special))
    j = json.loads(tok.to_str())
    assert j["model"]["type"] == "BPE", j["model"]["type"]
    assert j["pre_tokenizer"]["type"] == "ByteLevel" and not j["pre_tokenizer"]["add_prefix_space"]
    assert j["decoder"]["type"] == "ByteLevel"
    assert j["normalizer"] is None and j["post_processor"] is None
    assert all(a["special"] for a in j["added_tokens"])
    sample = contract.FACTS + '{"events":[{"zone":"Dock 3 Café"}]}' + contract.REPORT + "1 person.\n" + contract.END
    ids = tok.encode(sample).ids
    assert ids[0] == 0 and ids[-1] == contract.SPECIAL_TOKENS.index(contract.END), ids
    back = tok.decode(ids, skip_special_tokens=False)
    if back != sample:
        print(f"tokenizer: warning: decode(encode(x)) != x: {back!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--limit", type=int, default=60000, help="training lines to learn merges from")
    args = p.parse_args()
    tok = build(args.data, args.vocab_size, args.limit)
    check(tok)
    save(tok, args.out)
    print(f"tokenizer: {tok.get_vocab_size()} tokens -> {args.out}")


if __name__ == "__main__":
    main()
