#!/usr/bin/env bash
# Creates (once, into a cache outside the checkout) a Debian chroot holding that suite's GHC, then runs a
# command inside it with the checkout mounted at the same path, so tests can run against another GHC.
#
#   scripts/ghc-chroot.sh SUITE [COMMAND ARGS...]   e.g. scripts/ghc-chroot.sh trixie ghc --version
#
# SUITE is a Debian suite (trixie: GHC 9.6, sid: GHC 9.10). Without a command it only creates the chroot.
# GHCPW_CHROOT_CACHE sets the cache directory (default /var/cache/ghcpw/chroots). Needs root.
set -euo pipefail

suite=${1:?usage: scripts/ghc-chroot.sh SUITE [COMMAND ARGS...]}
shift
cache=${GHCPW_CHROOT_CACHE:-/var/cache/ghcpw/chroots}
root="$cache/$suite"
checkout=$(cd "$(dirname "$0")/.." && pwd)
mirror=${GHCPW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Packages the test suites need inside the chroot besides GHC itself.
packages=(ghc ca-certificates)

mkdir -p "$cache"
exec 9>"$cache/$suite.lock"
flock 9

if [ ! -e "$root/.ghcpw-ready" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  echo "ghc-chroot: creating $suite chroot in $root (a few minutes, once)" >&2
  rm -rf "$root"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/$suite.debootstrap.log" 2>&1 ||
    { echo "ghc-chroot: debootstrap failed; see $cache/$suite.debootstrap.log" >&2; exit 1; }
  # GHC's postinst runs ghc-pkg, whose $ORIGIN rpath needs /proc; mount it in a private namespace.
  unshare --mount --propagation private bash -c '
    mount -t proc proc "$1/proc"
    chroot "$1" apt-get install -y -qq --no-install-recommends "${@:2}"
  ' _ "$root" "${packages[@]}" >"$cache/$suite.install.log" 2>&1 ||
    { echo "ghc-chroot: installing GHC failed; see $cache/$suite.install.log" >&2; exit 1; }
  touch "$root/.ghcpw-ready"
  echo "ghc-chroot: $suite ready ($(chroot "$root" ghc --numeric-version))" >&2
fi
exec 9>&-

[ $# -gt 0 ] || exit 0
# A private mount namespace: the bind mounts vanish with the command, even if it is killed.
exec unshare --mount --propagation private bash -c '
  root=$1 checkout=$2; shift 2
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$checkout"
  mount --bind "$checkout" "$root$checkout"
  cd "$checkout"
  exec chroot "$root" /usr/bin/env -C "$checkout" "$@"
' _ "$root" "$checkout" "$@"
