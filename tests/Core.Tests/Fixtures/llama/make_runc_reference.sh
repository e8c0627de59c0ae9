#!/usr/bin/env bash
# Reproduces stories260K-runc.json: greedy (-t 0) outputs of karpathy/llama2.c's run.c for the stories260K
# model, with the token ids run.c encodes and generates.
#
# usage: make_runc_reference.sh [path/to/run.c] [model dir] [output json]
#   run.c      default /tmp/run.c; expected: karpathy/llama2.c commit 350e04fe35433e6d2941dce5a1f53308f87058eb
#              (sha256 9c4f2d5c6ae01b71726d1cc37530d71e60bff0ec7cc012565f16a43c1ca658bd), e.g.
#              git --git-dir=<llama2.c clone>/.git show 350e04fe35433e6d2941dce5a1f53308f87058eb:run.c > /tmp/run.c
#   model dir  default: stories260K/ next to this script (stories260K.bin, tok512.bin)
#   output     default: stories260K-runc.json next to this script
#
# It builds run.c twice with `gcc -O2 -lm`: unmodified, and a copy patched (sed) to also print to stderr the
# prompt token ids ("PROMPT_IDS ..."), every sampled id ("NEXT <pos> <id>") and a BOS stop ("STOP_BOS <pos>").
# Both are run with `-t 0 -n <steps> -i <prompt>` (steps 60 for five prompts, plus one 256-step run that ends
# on a generated BOS); their stdout must be identical. Needs gcc and python3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNC="${1:-/tmp/run.c}"
MODEL_DIR="${2:-$HERE/stories260K}"
OUT="${3:-$HERE/stories260K-runc.json}"
STEPS=60
EXPECTED_SHA=9c4f2d5c6ae01b71726d1cc37530d71e60bff0ec7cc012565f16a43c1ca658bd
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

sha=$(sha256sum "$RUNC" | cut -d' ' -f1)
[ "$sha" = "$EXPECTED_SHA" ] || echo "warning: $RUNC sha256 $sha differs from llama2.c@350e04f ($EXPECTED_SHA)" >&2

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$RUNC" "$WORK/run.c"
sed \
  -e 's|^\(    encode(tokenizer, prompt, 1, 0, prompt_tokens, &num_prompt_tokens);\)$|\1 fprintf(stderr, "PROMPT_IDS"); for (int q = 0; q < num_prompt_tokens; q++) fprintf(stderr, " %d", prompt_tokens[q]); fprintf(stderr, "\\n");|' \
  -e 's|^\(            next = sample(sampler, logits);\)$|\1 fprintf(stderr, "NEXT %d %d\\n", pos, next);|' \
  -e 's|^        if (next == 1) { break; }$|        if (next == 1) { fprintf(stderr, "STOP_BOS %d\\n", pos); break; }|' \
  "$RUNC" > "$WORK/run_ids.c"
[ "$(grep -c 'PROMPT_IDS\|"NEXT \|STOP_BOS' "$WORK/run_ids.c")" = 3 ] || { echo "patching run.c failed" >&2; exit 1; }
gcc -O2 -o "$WORK/run" "$WORK/run.c" -lm
gcc -O2 -o "$WORK/run_ids" "$WORK/run_ids.c" -lm

PROMPTS=("Once upon a time" "Lily wanted to" "The cat sat on the" "One day, a little boy named Tom" "" "One day, a little boy named Tom")
STEPS_OF=($STEPS $STEPS $STEPS $STEPS $STEPS 256)
for i in "${!PROMPTS[@]}"; do
  p="${PROMPTS[$i]}"; n="${STEPS_OF[$i]}"
  "$WORK/run" "$MODEL_DIR/stories260K.bin" -z "$MODEL_DIR/tok512.bin" -t 0 -n "$n" -i "$p" > "$WORK/plain.$i.out" 2>/dev/null
  "$WORK/run_ids" "$MODEL_DIR/stories260K.bin" -z "$MODEL_DIR/tok512.bin" -t 0 -n "$n" -i "$p" > "$WORK/$i.out" 2> "$WORK/$i.err"
  cmp -s "$WORK/plain.$i.out" "$WORK/$i.out" || { echo "patched run.c printed different text for '$p'" >&2; exit 1; }
  printf '%s' "$p" > "$WORK/$i.prompt"; printf '%s' "$n" > "$WORK/$i.steps"
done

"$PY" - "$WORK" "$MODEL_DIR" "$OUT" "$STEPS" "${#PROMPTS[@]}" "$sha" <<'PYEOF'
import json, os, struct, sys
work, model_dir, out, steps, n, sha = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

# tok512.bin: int32 max_token_length, then per piece float32 score, int32 len, bytes
raw = open(os.path.join(model_dir, "tok512.bin"), "rb").read()
off, pieces = 4, []
while off < len(raw):
    _score, ln = struct.unpack_from("<fi", raw, off); off += 8
    pieces.append(raw[off:off + ln]); off += ln

def decode(prev, tok):  # run.c decode() + safe_printf()
    p = pieces[tok]
    if prev == 1 and p[:1] == b" ":
        p = p[1:]
    if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
        p = bytes([int(p[3:5], 16)])
    if len(p) == 1 and not (chr(p[0]).isprintable() and p[0] < 128 or p[0] in b" \t\n\v\f\r"):
        return b""
    return p

prompts = []
for i in range(n):
    prompt = open(os.path.join(work, f"{i}.prompt"), encoding="utf-8").read()
    n_steps = int(open(os.path.join(work, f"{i}.steps")).read())
    text = open(os.path.join(work, f"{i}.out"), "rb").read()
    assert text.endswith(b"\n")
    text = text[:-1]  # generate() always ends with printf("\n")
    ids, gen, stop = None, [], None
    for line in open(os.path.join(work, f"{i}.err")):
        f = line.split()
        if not f: continue
        if f[0] == "PROMPT_IDS": ids = [int(x) for x in f[1:]]
        elif f[0] == "NEXT": gen.append(int(f[2]))
        elif f[0] == "STOP_BOS": stop = int(f[1])
    seq = ids + gen
    printed = b"".join(decode(seq[j - 1], seq[j]) for j in range(1, len(seq)) if seq[j] != 1)
    assert printed == text, (printed, text)
    gen_text = b"".join(decode(seq[j - 1], seq[j]) for j in range(len(ids), len(seq)) if seq[j] != 1)
    prompts.append({
        "prompt": prompt,
        "steps": n_steps,
        "prompt_token_ids": ids,
        "prompt_pieces": [pieces[t].decode("utf-8", "replace") for t in ids],
        "generated_ids": gen,
        "stopped_on_bos": stop is not None,
        "positions_run": stop if stop is not None else n_steps,
        "printed_text": text.decode("utf-8"),
        "generated_text": gen_text.decode("utf-8"),
    })

doc = {
    "description": "Greedy outputs of karpathy/llama2.c run.c for stories260K (see README.md, section stories260K)",
    "command": "./run stories260K.bin -z tok512.bin -t 0 -n <steps> -i <prompt>",
    "runc_commit": "350e04fe35433e6d2941dce5a1f53308f87058eb",
    "runc_sha256": sha,
    "steps": steps,
    "notes": [
        "-n (per-prompt `steps`; 60 unless stated) counts positions including the prompt: run.c forwards positions 0..steps-1, so at most steps - len(prompt_token_ids) + 1 ids are generated",
        "prompt_token_ids include BOS (1) and, for a non-empty prompt, a leading dummy-space piece (merged by BPE into the first word)",
        "generated_ids are run.c's sampled `next` values for pos >= len(prompt_token_ids) - 1; a generated BOS (1) ends generation and is included as the last id (stopped_on_bos)",
        "printed_text is run.c's stdout without its final newline: the decoded prompt (leading space after BOS stripped) followed by the generated text",
    ],
    "prompts": prompts,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
for p in prompts:
    print(repr(p["prompt"]), p["steps"], p["prompt_token_ids"], len(p["generated_ids"]), "stop_bos" if p["stopped_on_bos"] else "", repr(p["printed_text"]))
PYEOF
echo "wrote $OUT"
