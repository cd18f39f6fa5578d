#!/usr/bin/env bash
# Presage beside llama.cpp's own tools, built from the source node-llama-cpp bundles (not part of
# `npm run bench`: CI does not build llama.cpp). Usage:
#   bash bench/llamacpp/compare.sh LLAMA_BUILD_BIN_DIR [TOKENS] [TARGET.gguf ...]
# Targets default to the cached 1.5B and 150M heavy twins (`npm run bench` makes them).
# Prints, per model: llama.cpp's cost of a batch of n rows (llama-bench, pp n) and of a one-token decode
# (tg), llama.cpp's speculative loop (llama-speculative-simple) and plain loop (llama-completion),
# and Presage's plain and draft decoding of the same prompt, as JSON lines.
set -euo pipefail
bin=${1:?the folder holding llama-bench, llama-completion and llama-speculative-simple}
tokens=${2:-64}
shift $(( $# > 1 ? 2 : 1 ))
cd "$(dirname "$0")/../.."
twins=${PRESAGE_CACHE_DIR:-$HOME/.cache/presage}/heavy-twins
draft=models/stories260K.gguf
prompt="Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends."
threads=$(node -e 'import("node-llama-cpp").then(async m => console.log((await m.getLlama({ gpu: false })).cpuMathCores))')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$twins"/*1500M*q8_0*.gguf "$twins"/*150M*q8_0*.gguf)
for target in "${targets[@]}"; do
    name=$(basename "$target")
    echo "# $name, $threads threads"
    "$bin/llama-bench" -m "$target" -t "$threads" -p 1,2,3,4,6,8 -n 32 -r 3 -o jsonl 2>/dev/null \
        | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.trim().split("\n")){const r=JSON.parse(l);const n=r.n_prompt||r.n_gen;console.log(JSON.stringify({tool:"llama-bench",model:process.argv[1],kind:r.n_prompt?"pp":"tg",rows:r.n_prompt?n:1,ms_per_batch:r.n_prompt?1000*n/r.avg_ts:1000/r.avg_ts}))}})' "$name"
    for k in 2 4; do
        "$bin/llama-speculative-simple" -m "$target" -md "$draft" -p "$prompt" -n "$tokens" --temp 0 -t "$threads" -td 1 \
            --spec-type draft-simple --spec-draft-n-max "$k" -c 2048 2>&1 \
            | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const g=(re)=>Number((s.match(re)||[])[1]);console.log(JSON.stringify({tool:"llama-speculative-simple",model:process.argv[1],draftMax:Number(process.argv[2]),tokensPerSecond:g(/decoded\s+\d+ tokens in\s+[\d.]+ seconds, speed:\s+([\d.]+)/),accept:g(/accept\s+=\s+([\d.]+)%/)}))})' "$name" "$k"
    done
    "$bin/llama-completion" -m "$target" -p "$prompt" -n "$tokens" --temp 0 -t "$threads" -c 2048 -no-cnv --no-warmup 2>&1 </dev/null \
        | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=s.match(/eval time =\s+([\d.]+) ms \/\s+(\d+) runs/g);const last=m&&m.at(-1).match(/([\d.]+) ms \/\s+(\d+) runs/);console.log(JSON.stringify({tool:"llama-completion",model:process.argv[1],tokensPerSecond:last?1000*Number(last[2])/Number(last[1]):null}))})' "$name"
    for strategy in none draft; do
        node bin/presage.js generate --model "$target" --draft "$draft" --prompt "$prompt" --max-tokens "$tokens" --strategy "$strategy" --json \
            | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).stats;console.log(JSON.stringify({tool:"presage",model:process.argv[1],strategy:process.argv[2],tokensPerSecond:r.tokensPerSecond,steps:r.steps,msPerStep:1000*r.seconds/r.steps,meanAcceptedLength:r.meanAcceptedLength,threads:r.threads??null}))})' "$name" "$strategy"
    done
done
