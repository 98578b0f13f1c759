#!/usr/bin/env bash
# The reference system's build hook (gauntlet.toml: [stack] build_hook).
# gauntlet runs it before hashing the image contexts. The reference system
# and the fault proxy are compiled on the host (both are Debian bookworm, so
# the binaries run in the images as they are) and staged into the contexts.
#
#   GAUNTLET_SYSTEM_BIN=PATH  use this prebuilt gauntlet-system (and the
#                             gauntlet-faultproxy next to it); else cargo build.
# A file is replaced only when its bytes change, so the context hash (and
# the image tag) stays put; written then renamed, so a concurrent build
# never sees half a file (the hash skips names containing ".tmp").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -n "${GAUNTLET_SYSTEM_BIN:-}" ]; then
  system_bin=$GAUNTLET_SYSTEM_BIN
  proxy_bin=$(dirname "$system_bin")/gauntlet-faultproxy
  if [ ! -f "$proxy_bin" ]; then
    echo "build hook: the fault proxy is not built next to $system_bin: run \`cargo build -p gauntlet-faultproxy\`" >&2
    exit 2
  fi
else
  "${CARGO:-cargo}" build --quiet -p gauntlet-system --bin gauntlet-system \
    -p gauntlet-faultproxy --bin gauntlet-faultproxy
  target_dir=${CARGO_TARGET_DIR:-target}
  system_bin=$target_dir/debug/gauntlet-system
  proxy_bin=$target_dir/debug/gauntlet-faultproxy
fi
[ -f "$system_bin" ] || { echo "build hook: no binary at $system_bin" >&2; exit 2; }

stage() {
  local from=$1 to=$2
  if cmp -s "$from" "$to"; then return 0; fi
  mkdir -p "$(dirname "$to")"
  local tmp="$to.tmp$$-$RANDOM"
  cp -p --sparse=never "$from" "$tmp"
  mv -f "$tmp" "$to"
}
stage "$system_bin" system/images/app/bin/gauntlet-system
stage "$proxy_bin" system/images/faultproxy/bin/gauntlet-faultproxy
