#!/usr/bin/env bash
# Creates (once, into a cache outside the checkout) a Debian chroot holding that suite's GHC, then runs a
# command inside it with the checkout mounted at the same path, so tests can run against another GHC.
#
#   scripts/ghc-chroot.sh SUITE [COMMAND ARGS...]   e.g. scripts/ghc-chroot.sh trixie ghc --version
#
# SUITE is a Debian suite (trixie: GHC 9.6, sid: GHC 9.10). Without a command it only creates the chroot.
# GHCPW_CHROOT_CACHE sets the cache directory (default /var/cache/ghcpw/chroots). Needs root.
#
# The host's deno (if any) is mounted read-only at /usr/local/bin/deno and its cache (DENO_DIR, default
# ~/.cache/deno) at the same path with DENO_DIR set, so `deno run`/`deno test` work inside without network
# for what the host has cached, e.g.
#   scripts/ghc-chroot.sh sid deno test -A tests/
# /tmp inside is a fresh tmpfs per invocation; everything else in the chroot (e.g. ~/.cache/ghcpw) persists.
set -euo pipefail

suite=${1:?usage: scripts/ghc-chroot.sh SUITE [COMMAND ARGS...]}
shift
cache=${GHCPW_CHROOT_CACHE:-/var/cache/ghcpw/chroots}
root="$cache/$suite"
checkout=$(cd "$(dirname "$0")/.." && pwd)
mirror=${GHCPW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Packages the test suites need inside the chroot besides GHC itself (python3-grpcio and python3-protobuf:
# the Buck2 worker test's gRPC client).
packages=(ghc ca-certificates python3-grpcio python3-protobuf)

# Name resolution for apt and the like inside: the host's resolv.conf, unless the chroot has a usable one
# (a symlink would point into the chroot's own, empty, /run).
ensure_resolv_conf() {
  if [ -e /etc/resolv.conf ] && { [ -L "$root/etc/resolv.conf" ] || [ ! -s "$root/etc/resolv.conf" ]; }; then
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  fi
}

mkdir -p "$cache"
exec 9>"$cache/$suite.lock"
flock 9

if [ ! -e "$root/.ghcpw-ready" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  echo "ghc-chroot: creating $suite chroot in $root (a few minutes, once)" >&2
  rm -rf "$root"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/$suite.debootstrap.log" 2>&1 ||
    { echo "ghc-chroot: debootstrap failed; see $cache/$suite.debootstrap.log" >&2; exit 1; }
  ensure_resolv_conf
  # GHC's postinst runs ghc-pkg, whose $ORIGIN rpath needs /proc; mount it in a private namespace.
  unshare --mount --propagation private bash -c '
    mount -t proc proc "$1/proc"
    chroot "$1" apt-get install -y -qq --no-install-recommends "${@:2}"
  ' _ "$root" "${packages[@]}" >"$cache/$suite.install.log" 2>&1 ||
    { echo "ghc-chroot: installing GHC failed; see $cache/$suite.install.log" >&2; exit 1; }
  touch "$root/.ghcpw-ready"
  # ghc's $ORIGIN rpath needs /proc here too.
  version=$(unshare --mount --propagation private bash -c '
    mount -t proc proc "$1/proc"
    chroot "$1" ghc --numeric-version
  ' _ "$root" 2>/dev/null) || version="ghc --numeric-version failed"
  echo "ghc-chroot: $suite ready (GHC $version)" >&2
fi
ensure_resolv_conf
exec 9>&-

[ $# -gt 0 ] || exit 0
deno_bin=$(readlink -f "$(command -v deno 2>/dev/null || true)" 2>/dev/null || true)
deno_dir=${DENO_DIR:-${HOME:-}/.cache/deno}
[ -d "$deno_dir" ] && deno_dir=$(cd "$deno_dir" && pwd) || deno_dir=
# A private mount namespace: the bind mounts vanish with the command, even if it is killed.
exec unshare --mount --propagation private bash -c '
  root=$1 checkout=$2 deno_bin=$3 deno_dir=$4; shift 4
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$checkout"
  mount --bind "$checkout" "$root$checkout"
  env=(PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
  if [ -n "$deno_bin" ] && [ -f "$deno_bin" ]; then
    mkdir -p "$root/usr/local/bin"
    [ -e "$root/usr/local/bin/deno" ] || touch "$root/usr/local/bin/deno"
    mount --bind "$deno_bin" "$root/usr/local/bin/deno"
    mount -o remount,bind,ro "$root/usr/local/bin/deno"
  fi
  if [ -n "$deno_dir" ]; then
    mkdir -p "$root$deno_dir"
    mount --bind "$deno_dir" "$root$deno_dir"
    env+=(DENO_DIR="$deno_dir")
  fi
  exec chroot "$root" /usr/bin/env -C "$checkout" "${env[@]}" "$@"
' _ "$root" "$checkout" "$deno_bin" "$deno_dir" "$@"
