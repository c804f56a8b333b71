#!/usr/bin/env bash
# README's first command (also `npm run demo`): a local Drover environment
# from this checkout, brought up as a user would — the real control plane,
# CRDs and RBAC, the operator with its enrollment endpoint, two test hosts
# whose agents enroll with bootstrap tokens, and examples/quickstart applied
# until its VM runs and answers HTTP. Everything stays up until
# `bash scripts/dev-up.sh down`.
#   bash scripts/dev-up.sh [up] [--hosts N] [--timeout SECONDS]
#   bash scripts/dev-up.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
sub="up"
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then sub="$1"; shift; fi
# `down` only needs dist/ (and must work even when a build would fail).
if [ "$sub" = "up" ] || [ ! -f dist/cli/main.js ]; then drover_prepare; fi
exec node dist/cli/main.js dev "$sub" "$@"
