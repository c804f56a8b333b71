#!/usr/bin/env bash
# `npm run bench`: benchmarks, figures written to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
npm run -s build
exec node dist/bench/main.js "$@"
