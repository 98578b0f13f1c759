#!/usr/bin/env bash
# The test command from the README: prepares the machine, builds, and runs
# every test (unit, CLI, and the stack tests against the real Docker engine).
# CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$(date +%s)
stamp() { printf '== %s (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

# A cold build and the images take about 12 GB of disk; say so up front
# (a full disk otherwise shows as a compiler's "No space left on device").
free_gb=$(df -Pk . | awk 'NR==2 {print int($4 / 1048576)}')
echo "disk: ${free_gb} GB free here"
if [ "${free_gb:-0}" -lt 12 ]; then
  echo "warning: less than 12 GB free; the build may run out of disk" >&2
fi

stamp "bootstrap"
if [ "$(id -u)" -eq 0 ]; then
  bash ci/bootstrap.sh
else
  echo "not root: skipping ci/bootstrap.sh; 'gauntlet doctor' says what is missing"
fi

stamp "cargo build"
cargo build --workspace --locked

stamp "images"
# Build the stack's images once, so parallel tests never race to build them.
target/debug/gauntlet build --system-bin target/debug/gauntlet-system
target/debug/gauntlet --config examples/python-counter/gauntlet.toml build
target/debug/gauntlet --config examples/node-relay/gauntlet.toml build

stamp "tests"
cargo nextest run --workspace --locked --profile ci --run-ignored all

stamp "done"
