#!/usr/bin/env bash
# README's first command: a local Drover environment from this checkout — the
# real control plane, CRDs and RBAC, the operator, and the examples applied.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
drover_prepare
exec node dist/cli/main.js dev "${1:-up}" "${@:2}"
