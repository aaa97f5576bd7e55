#!/usr/bin/env bash
# Fetch lwIP's source from Debian's `lwip` source package (issue 14: a
# maintained stack, had from Debian, no copy in our repository and no binary
# download) and unpack it where the build expects it:
#
#   scripts/fetch-lwip.sh [DEST]      DEST defaults to third_party/lwip
#
# DEST (gitignored) ends up holding lwip-<upstream>/ (the upstream tree as
# Debian ships it: orig tarball, none of Debian's patches applied — they
# touch only the sockets API, PPP and Debian's own port, none of which we
# build) and VERSION (the Debian version fetched and the tarball's sha256).
#
# How: apt with a private configuration (no root, the host's apt state is
# untouched): a deb-src line for bookworm signed by the Debian archive key,
# `apt-get update` into a private lists directory, then `apt-get source
# --download-only`. apt checks the signed InRelease -> Sources -> the
# files' hashes; we additionally pin the orig tarball's sha256, so a changed
# upstream tree is an error here, never a silent change of the code we run.
#
# Idempotent and fast: when DEST/VERSION names the pinned tarball and the
# tree is present, it exits at once without touching the network. Offline
# (or a mirror failure), it says so and exits 1.
set -euo pipefail

UPSTREAM=2.1.3
ORIG=lwip_${UPSTREAM}+dfsg1.orig.tar.xz
ORIG_SHA256=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24
SUITE=${LWIP_DEBIAN_SUITE:-bookworm}
MIRROR=${LWIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/third_party/lwip}"
tree="$dest/lwip-$UPSTREAM"

# The fast path: one file read, no network.
if [[ -f "$dest/VERSION" && -f "$tree/src/core/init.c" ]] &&
  grep -qx "sha256 $ORIG_SHA256" "$dest/VERSION"; then
  exit 0
fi

fail() {
  echo "fetch-lwip.sh: $*" >&2
  exit 1
}
command -v apt-get >/dev/null || fail "needs apt-get (Debian): lwIP comes from Debian's 'lwip' source package"
[[ -f "$KEYRING" ]] || fail "no $KEYRING: install debian-archive-keyring (scripts/deps.sh lists it)"

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-lwip.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$work/sources.list"
# Sandbox::User=root: the private directories belong to whoever runs this;
# apt's _apt user could not write them (it would warn and do it anyway).
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
  -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=$(id -un)" -q)

echo "fetch-lwip.sh: fetching the lwip source package from $MIRROR ($SUITE)" >&2
# apt-get update exits 0 on some fetch failures: the Sources index is the
# proof it worked.
if ! apt-get "${apt_opts[@]}" update >"$work/update.log" 2>&1 ||
  ! compgen -G "$work/lists/*Sources*" >/dev/null; then
  cat "$work/update.log" >&2
  fail "could not fetch Debian's source index (offline?); lwIP is needed to build the netstack"
fi
if ! (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only lwip) >"$work/source.log" 2>&1; then
  cat "$work/source.log" >&2
  fail "apt-get source lwip failed"
fi
[[ -f "$work/src/$ORIG" ]] || fail "Debian's lwip package no longer ships $ORIG (a new upstream version: update UPSTREAM and ORIG_SHA256 here)"
got="$(sha256sum "$work/src/$ORIG" | cut -d' ' -f1)"
[[ "$got" == "$ORIG_SHA256" ]] || fail "$ORIG has sha256 $got, expected $ORIG_SHA256"
dsc="$(cd "$work/src" && ls lwip_*.dsc)"
version="${dsc#lwip_}"
version="${version%.dsc}"

mkdir -p "$dest"
rm -rf "$tree" "$dest/VERSION"
tar -xJf "$work/src/$ORIG" -C "$dest"
[[ -f "$tree/src/core/init.c" ]] || fail "$ORIG did not unpack to $tree"
printf 'debian %s\nsha256 %s\nfrom %s %s\n' "$version" "$ORIG_SHA256" "$MIRROR" "$SUITE" >"$dest/VERSION"
echo "fetch-lwip.sh: lwIP $version unpacked in $tree" >&2
