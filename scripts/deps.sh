#!/usr/bin/env bash
# Install (or say how to install) every host package Sluice needs to build,
# boot and test. Used by `make` (run/test/image/...) and by .ci/run.
#
#   scripts/deps.sh          check; install what is missing when root,
#                            else print the one sudo line and exit 1
#   scripts/deps.sh --list   print the package list and exit
#
# Fast no-op (a single dpkg-query) when everything is present.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build make git clang lld libclang-rt-14-dev
  # lwIP's source from Debian (scripts/fetch-lwip.sh: apt-get source checks
  # it against the archive key; the tarball is .tar.xz)
  debian-archive-keyring xz-utils
  # formatting check (make test: format.check pins clang-format-14)
  clang-format
  # unit tests
  googletest libgtest-dev
  # boot images: GRUB for BIOS and UEFI, ISO and FAT tooling, partitioning
  grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools fdisk dosfstools
  # running: QEMU, UEFI firmware, disk image tools
  qemu-system-x86 qemu-utils ovmf
  # harness and debugging (python3 >= 3.11 for tomllib; Debian 12 has 3.11)
  python3 gdb
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian-based system (no dpkg-query); install the equivalents of:" >&2
  echo "  ${PACKAGES[*]}" >&2
  exit 0
fi

# One dpkg-query for all packages. It exits non-zero when any package is
# unknown to dpkg; that is not an error here — unknown packages are simply
# absent from its output and counted as missing below.
if ! installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null)"; then
  : # some packages are not installed (yet); the loop below finds which
fi
missing=()
for p in "${PACKAGES[@]}"; do
  if ! grep -qE "^${p//+/\\+} ii" <<<"$installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "deps.sh: missing packages: ${missing[*]}" >&2
if [[ "$(id -u)" == "0" ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  echo "deps.sh: installed ${#missing[@]} package(s)" >&2
else
  echo "deps.sh: run this, then try again:" >&2
  echo "sudo apt-get install -y ${missing[*]}"
  exit 1
fi
