#!/usr/bin/env bash
# The Slurm sweep test, run by .ci/run after the unit tests: a real single-node cluster (cluster.sh), a 4-combination tiny
# sweep written and submitted by `plugingpt sweep --slurm --submit`, waited for, then collected with `sweep --collect`:
# 4 finished runs in the collected table and 4 rows in the results store. Needs the host built (dotnet build -c Release).
# Prints "slurm sweep: passed" or why it failed; exit code 0 only when it passed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
fail() { echo "slurm sweep: FAILED: $*"; exit 1; }
cleanup() { "$repo/tests/slurm/cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work" || true; }
trap cleanup EXIT
trap 'echo "slurm sweep: FAILED: interrupted (timed out?)"; exit 1' INT TERM
host=(dotnet "$repo/src/Host/bin/Release/net10.0/plugingpt.dll")
[ -f "${host[1]}" ] || fail "${host[1]} not built"

started="$("$repo/tests/slurm/cluster.sh" start "$work/cluster")" || fail "the cluster did not start (its log is above)"
eval "$started"   # export SLURM_CONF=… for sbatch and squeue, here and in plugingpt

# From an unrelated folder: the shipped experiment resolves through the host, the runs start in this folder (--chdir).
cd "$work"
job="$("${host[@]}" sweep experiments/full-sst2-tiny.json --grid training.lr=3e-3,1e-3 --grid objective.options.lm_coef=0,0.5 \
  --set training.epochs=1 --set task.max_train=200 --set task.max_dev=50 \
  --slurm --submit --partition test --cpus 1 --time 10 --out "$work/sweep" --results "$work/results.db" | tail -n 1)" \
  || fail "sweep --slurm --submit did not submit"
[[ "$job" =~ ^[0-9]+$ ]] || fail "sweep --submit printed '$job', not a job id"
grep -q -- '--array=0-3' "$work/sweep/sweep.sbatch" || fail "sweep.sbatch has no 4-task array"

for _ in $(seq 1 300); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 2
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || fail "job $job still queued or running after 10 minutes: $(squeue -j "$job" 2>&1)"

if ! "${host[@]}" sweep --collect "$work/sweep" > "$work/collect.log" 2>&1; then
  cat "$work/collect.log"; tail -n 5 "$work"/sweep/slurm/*.out
  fail "sweep --collect: not every run finished"
fi
rows=$(grep -c '^| lr=' "$work/sweep/sweep.md" || true)
[ "$rows" -eq 4 ] || fail "sweep.md has $rows runs, expected 4"
for i in 0 1 2 3; do
  [ "$(cat "$work/sweep/slurm/$i.exit")" = "0" ] || fail "array task $i exited with $(cat "$work/sweep/slurm/$i.exit")"
done
recorded=$("${host[@]}" results --json --results "$work/results.db" | grep -c '"primary_metric"' || true)
[ "$recorded" -eq 4 ] || fail "the results store has $recorded rows, expected 4"
echo "slurm sweep: passed (job $job: 4 array tasks finished, collected, 4 rows in the results store)"
