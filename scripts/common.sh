# shellcheck shell=bash
# Shared by scripts/*.sh and bench/*: repository paths, build directories, logging.
# Sourced, never run. Callers set -euo pipefail themselves.
#
# Build directories (override the root with MAILSIFT_BUILD_ROOT, e.g. to keep several trees):
#   release  ${MAILSIFT_BUILD_ROOT:-<repo>/build}          g++, RelWithDebInfo
#   asan     ${MAILSIFT_BUILD_ROOT:-<repo>/build}-asan     g++, ASan + UBSan
#   fuzz     ${MAILSIFT_BUILD_ROOT:-<repo>/build}-fuzz     clang, libFuzzer + ASan + UBSan

MAILSIFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAILSIFT_BUILD_ROOT="${MAILSIFT_BUILD_ROOT:-$MAILSIFT_ROOT/build}"
# Relative roots are taken from the repository, so scripts work from any current directory.
case "$MAILSIFT_BUILD_ROOT" in /*) ;; *) MAILSIFT_BUILD_ROOT="$MAILSIFT_ROOT/$MAILSIFT_BUILD_ROOT" ;; esac

build_dir() {
  case "$1" in
    release) echo "$MAILSIFT_BUILD_ROOT" ;;
    asan) echo "$MAILSIFT_BUILD_ROOT-asan" ;;
    fuzz) echo "$MAILSIFT_BUILD_ROOT-fuzz" ;;
    *) echo "unknown build flavour: $1" >&2; return 2 ;;
  esac
}

# The CLI of the release build; MAILSIFT_BIN points elsewhere (e.g. an installed binary).
mailsift_bin() { echo "${MAILSIFT_BIN:-$(build_dir release)/src/cli/mailsift}"; }

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
