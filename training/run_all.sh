#!/usr/bin/env bash
# The whole training run of the bundled report model on one GPU, ~11-12 minutes in all:
# corpus -> tokenizer -> teacher -> distilled draft -> reference logits -> quick greedy eval.
#
#   OUT=/path/to/results bash training/run_all.sh                 # everything in one go
#   OUT=... STAGES="data teacher" bash training/run_all.sh        # or in two calls of < 10 min
#   OUT=... STAGES="draft reference eval pack" bash training/run_all.sh
#   QUICK=1 ...                                                    # a 2-minute smoke run
#
# Needs python3 with torch, transformers, tokenizers, safetensors (no internet). Intermediate
# files live in $WORK (default: out/train-work in the repository, ignored by git, so a second
# call on the same machine finds the first one's results). The pack stage writes flat files
# under $OUT (each < 16 MB, 6 files):
#   teacher.tar.part-aa, -ab, -ac  the teacher HF folder (cat them > teacher.tar; tar xf)
#   draft.tar                      the draft HF folder
#   reference.tar                  files for training/reference/ (logits, tokenizer cases)
#   log.txt                        everything printed by all stages, with the eval tables
# heldout.jsonl is not shipped: `python3 training/corpus.py heldout --seed 9001 --n 1000
# --out DIR/heldout.jsonl` regenerates it byte for byte (with vocab.json next to it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out/training}
WORK=${WORK:-$PWD/out/train-work}
STAGES=${STAGES:-"data teacher draft reference eval pack"}
QUICK=${QUICK:-0}
mkdir -p "$OUT" "$WORK"
case " $STAGES " in *" data "*) rm -f "$WORK/log.txt" ;; esac
exec > >(tee -a "$WORK/log.txt") 2>&1

N_TRAIN=400000; TEACHER_BUDGET=390; DRAFT_BUDGET=150; TEACHER_STEPS=9000; DRAFT_STEPS=5000; N_EVAL=200
if [ "$QUICK" = 1 ]; then
  N_TRAIN=4000; TEACHER_BUDGET=20; DRAFT_BUDGET=10; TEACHER_STEPS=120; DRAFT_STEPS=80; N_EVAL=20
fi
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }
has() { case " $STAGES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
T0=$(date +%s)
stamp "stages: $STAGES; machine: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
python3 -c 'import sys, torch, transformers, tokenizers; print("python", sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)'

if has data; then
  stamp "corpus ($N_TRAIN training lines in 8 shards, seeds 1-8; held-out seed 9001)"
  pids=()
  for shard in 1 2 3 4 5 6 7 8; do
    python3 training/corpus.py train --seed "$shard" --n $(( N_TRAIN / 8 )) \
      --out "$WORK/train.$shard.jsonl" &
    pids+=($!)
  done
  python3 training/corpus.py heldout --seed 9001 --n 1000 --out "$WORK/heldout.jsonl"
  for pid in "${pids[@]}"; do wait "$pid"; done  # fails the run if a shard failed
  cat "$WORK"/train.[1-8].jsonl > "$WORK/train.jsonl"
  rm "$WORK"/train.[1-8].jsonl
  wc -l "$WORK/train.jsonl" "$WORK/heldout.jsonl"
  stamp "tokenizer"
  python3 training/tokenizer.py --data "$WORK/train.jsonl" --out "$WORK/tokenizer" --vocab-size 4096
fi

if has teacher; then
  stamp "teacher"
  python3 training/train.py --data "$WORK/train.jsonl" --tokenizer "$WORK/tokenizer" \
    --out "$WORK/teacher" --steps "$TEACHER_STEPS" --time-budget "$TEACHER_BUDGET"
fi

if has draft; then
  stamp "draft (distillation)"
  python3 training/distill.py --teacher "$WORK/teacher" --data "$WORK/train.jsonl" \
    --out "$WORK/draft" --steps "$DRAFT_STEPS" --time-budget "$DRAFT_BUDGET"
fi

if has reference; then
  stamp "reference logits"
  python3 training/export_reference.py --teacher "$WORK/teacher" --draft "$WORK/draft" \
    --heldout "$WORK/heldout.jsonl" --out "$WORK/reference"
fi

if has eval; then
  stamp "quick greedy eval (PyTorch, $N_EVAL held-out items)"
  python3 training/eval_quick.py --model "$WORK/teacher" --heldout "$WORK/heldout.jsonl" -n "$N_EVAL"
  python3 training/eval_quick.py --model "$WORK/draft" --heldout "$WORK/heldout.jsonl" \
    -n "$N_EVAL" --show 1
fi

if has pack; then
  stamp "packing"
  tar -C "$WORK" -cf "$WORK/teacher.tar" teacher
  split -b 15m -a 2 "$WORK/teacher.tar" "$OUT/teacher.tar.part-"
  tar -C "$WORK" -cf "$OUT/draft.tar" draft
  tar -C "$WORK/reference" -cf "$OUT/reference.tar" .
  ls -l "$OUT"
fi
stamp "stages done in $(( $(date +%s) - T0 )) s"
cp "$WORK/log.txt" "$OUT/log.txt"
