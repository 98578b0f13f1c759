#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine (as root) to run gauntlet:
#   1. a Docker engine that answers (installs docker.io and starts dockerd
#      when there is no systemd to do it);
#   2. the base image debian:bookworm-slim, built with debootstrap from the
#      host's own apt mirror when it cannot be pulled;
#   3. the host's CA bundle staged where image builds can COPY it, so apt and
#      npm work behind an intercepting TLS proxy;
#   4. the Debian tools the test suite drives (wrk, docker-compose v1, and
#      headless Chromium with a font for the report browser test).
# Idempotent: every step checks first and does nothing when already done.
# `gauntlet doctor` runs the same checks; `gauntlet doctor --fix` runs this.
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
base_image=debian:bookworm-slim

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 3; }

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
bootstrap: error: this script installs packages and starts dockerd, so it must run as root.
Without root, install these yourself, then run 'gauntlet doctor':
  - a running Docker engine (package docker.io, or Docker Engine), usable by your user
  - the image $base_image (docker pull $base_image, or build it with debootstrap)
  - Debian packages: debootstrap wrk docker-compose ca-certificates curl libxml2-utils chromium fonts-dejavu-core
EOF
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1 || [ ! -r /etc/os-release ]; then
  cat >&2 <<EOF
bootstrap: error: this is not a Debian-like system (no apt-get); install by hand:
  - a running Docker engine
  - the image $base_image
  - wrk and docker-compose (optional: benchmarks and by-hand compose use)
  - Chromium as \`chromium\` on the PATH (the report browser test)
EOF
  exit 3
fi

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- 1. Docker engine ---------------------------------------------------
docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
if docker_answers; then
  log "docker engine answers"
else
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start docker || true
  fi
  if ! docker_answers; then
    log "starting dockerd in the background (log: /var/log/gauntlet-dockerd.log)"
    # Published ports without the userland proxy: the kernel forwards them
    # (iptables DNAT; loopback too). The proxy copied every byte in user
    # space and held two descriptors per connection under dockerd's
    # open-file limit (20,000 here, and root cannot raise it), which a
    # 10,000-user load reaches. dockerd and the containers inherit its
    # limit: raised as far as the hard limit allows.
    (ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
     exec nohup dockerd --userland-proxy=false >/var/log/gauntlet-dockerd.log 2>&1) &
  fi
  for _ in $(seq 1 60); do docker_answers && break; sleep 1; done
  docker_answers || die "dockerd did not answer within 60 s; see /var/log/gauntlet-dockerd.log"
  log "docker engine answers"
fi

# --- 4. Debian tools used by tests and benchmarks ------------------------
apt_install debootstrap wrk docker-compose ca-certificates curl libxml2-utils
# Headless Chromium renders report.html in harness/cli/tests/browser.rs. It
# runs headless without its recommended packages (GPU drivers, upower, a
# notification daemon); a font is named so that text renders even where
# fontconfig's font dependency was met some other way.
apt_install chromium fonts-dejavu-core

# --- 2. Base image -----------------------------------------------------
# The mirror comes from the host's own apt configuration (deb822 .sources
# files or one-line sources.list), never from a name written here.
host_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  printf '%s' "$uri"
}

if docker image inspect "$base_image" >/dev/null 2>&1; then
  log "base image $base_image present"
elif timeout 60 docker pull "$base_image" >/dev/null 2>&1; then
  log "pulled $base_image"
else
  mirror=$(host_mirror)
  [ -n "$mirror" ] || die "cannot find a Debian mirror in /etc/apt/sources.list*; pull or import $base_image by hand"
  rootfs=$(mktemp -d /var/tmp/gauntlet-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "building $base_image with debootstrap from the host's mirror (about a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/var/log/gauntlet-debootstrap.log 2>&1 \
    || die "debootstrap failed; see /var/log/gauntlet-debootstrap.log"
  # Keep the image slim like the official one: no apt lists, no caches.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base_image" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  log "imported $base_image"
fi

# --- 3. CA bundle for image builds ---------------------------------------
ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || die "no CA bundle at $ca (install ca-certificates)"
for ctx in "$repo"/system/images/*/; do
  if ! cmp -s "$ca" "$ctx/host-ca.crt"; then
    cp "$ca" "$ctx/host-ca.crt"
    log "staged host CA bundle into ${ctx#"$repo"/}"
  fi
done

log "ready"
