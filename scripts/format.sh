#!/usr/bin/env bash
# Formatting of every C++ source the repository tracks, by .clang-format.
#
#   scripts/format.sh          rewrite the files in place (make format)
#   scripts/format.sh --check  change nothing; list the files that differ
#                              and exit 1 (ctest entry format.check, CI)
#
# One clang-format version for everyone: its output differs between major
# versions, so the check pins Debian 12's (clang-format-14, package
# clang-format). Files that must keep a hand-made layout (tables) fence it
# with `// clang-format off` / `// clang-format on`.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "format: $CLANG_FORMAT not found (apt-get install clang-format; scripts/deps.sh does)" >&2
  exit 2
fi

mapfile -t files < <(git ls-files -- '*.cc' '*.h')
if [[ ${#files[@]} -eq 0 ]]; then
  echo "format: no C++ files found (not a git checkout?)" >&2
  exit 2
fi

if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
  done
  if [[ ${#bad[@]} -gt 0 ]]; then
    echo "format: ${#bad[@]} of ${#files[@]} files differ from .clang-format ($CLANG_FORMAT); run 'make format':" >&2
    printf '  %s\n' "${bad[@]}" >&2
    "$CLANG_FORMAT" --dry-run "${bad[0]}" 2>&1 | head -20 >&2
    exit 1
  fi
  echo "format: ${#files[@]} files match .clang-format ($CLANG_FORMAT)"
  exit 0
fi

"$CLANG_FORMAT" -i "${files[@]}"
echo "format: formatted ${#files[@]} files"
