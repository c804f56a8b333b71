#!/usr/bin/env bash
# The test command (README): installs what the tests need on a fresh Debian
# machine (Node.js 24, npm packages, Debian packages for the test bed), builds,
# checks that crds/ matches src/api, then runs the unit and integration suites
# against a real kube-apiserver + etcd (built from Go modules and cached) and
# real libvirt/QEMU test hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
# QEMU runs as libvirt-qemu and must traverse into the test storage below this
# checkout (.drover/test): a clone in a `mktemp -d` directory is mode 0700.
if [ "$(id -u)" = 0 ]; then chmod o+x .; fi
source scripts/env.sh

drover_prepare
node dist/tools/gen-crds.js --check
node dist/tools/gen-api-docs.js --check

results="$(mktemp -d)"
status=0
NODE_OPTIONS=--experimental-vm-modules npx jest --selectProjects unit --json --outputFile="$results/unit.json" || status=1
NODE_OPTIONS=--experimental-vm-modules npx jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" || status=1

# One closing line in the plain form CI reads: "tests: N passed, N failed".
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed += 1; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results/unit.json" "$results/integration.json"
exit $status
