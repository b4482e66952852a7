#!/usr/bin/env bash
# Decode speed of every compression variant of the shared test models (the "decode tok/s"
# column of docs/COMPRESSION.md): quantizes and prunes each base model with this build's
# `vigil`, then runs `vigil bench -p 0 -n 64 -r 5 -t 1` on each variant.
#
#   bench/compression-speed.sh [OUT_DIR]        (default: a temp dir, removed afterwards)
#
# Prints one line per variant: model, variant, file size (KiB), tok/s mean, sd.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
vigil=${VIGIL:-$here/build/release/vigil}
models=${SHARED:-$here/../shared}/testdata/models
calib=$here/tests/compress/text/calibration.txt
out=${1:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

types="q8_0 q6_k q5_k_m q5_k_s q5_1 q5_0 q4_k_m q4_k_s q4_1 q4_0"
measure() {  # model variant file
  local json
  json=$("$vigil" bench -m "$3" -p 0 -n 64 -r 5 -t 1 --json)
  python3 -c 'import json,os,sys
r = json.loads(sys.argv[1])[0]
size = os.path.getsize(sys.argv[4]) // 1024
print("%s\t%s\t%d\t%.0f\t%.0f" % (sys.argv[2], sys.argv[3], size, r["avg_ts"], r["stddev_ts"]))' \
    "$json" "$1" "$2" "$3"
}

for m in llama qwen2 phi3; do
  base=$models/$m/model-f32.gguf
  base_type=f32
  if [ "$m" = llama ]; then base=$models/$m/model-f16.gguf; base_type=f16; fi
  measure "$m" "$base_type" "$base"
  for t in $types; do
    "$vigil" quantize "$base" "$out/$m-$t.gguf" --type "$t" > /dev/null 2>&1
    measure "$m" "$t" "$out/$m-$t.gguf"
  done
  for keep in 0.75 0.5; do
    p=$out/$m-ffn$keep.gguf
    "$vigil" prune "$base" "$p" --ffn-keep "$keep" -f "$calib" --ctx 128 > /dev/null 2>&1
    measure "$m" "pruned ffn-keep $keep ($base_type)" "$p"
    for t in q8_0 q4_0; do
      "$vigil" quantize "$p" "$out/$m-ffn$keep-$t.gguf" --type "$t" > /dev/null 2>&1
      measure "$m" "pruned $keep -> $t" "$out/$m-ffn$keep-$t.gguf"
    done
  done
  p=$out/$m-heads0.5.gguf
  "$vigil" prune "$base" "$p" --ffn-keep 1 --heads-keep 0.5 -f "$calib" --ctx 128 > /dev/null 2>&1
  measure "$m" "pruned heads-keep 0.5 ($base_type)" "$p"
done
