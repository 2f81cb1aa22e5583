#!/usr/bin/env bash
# Build another commit of ordertail beside this checkout, for benchmarks that
# compare two builds in one run (BENCH_BASELINE=<dir>, bench/dedup.ts --baseline):
#   bench/baseline.sh COMMIT [DIR]     → prints DIR (default /tmp/ordertail-baseline-COMMIT)
set -euo pipefail
commit=${1:?usage: bench/baseline.sh COMMIT [DIR]}
dir=${2:-/tmp/ordertail-baseline-$commit}
cd "$(dirname "$0")/.."
if [ ! -d "$dir" ]; then
  git worktree add --detach "$dir" "$commit" >&2
fi
(cd "$dir" && npm ci --no-audit --no-fund >&2 && npm run build >&2 && npm run build:bench --if-present >&2)
echo "$dir"
