#!/usr/bin/env bash
# Build mathlearn._core with AddressSanitizer and UndefinedBehaviorSanitizer
# into a throwaway virtual environment and run the test suite against it.
#
# Usage: tools/sanitize.sh [pytest arguments...]
#   tools/sanitize.sh                      # the whole default test suite
#   tools/sanitize.sh test_network.py -x   # a part of it (paths relative to tests/)
#
# Environment:
#   MATHLEARN_SANITIZE_DIR   work directory (default: a new mktemp -d),
#                            removed at the end unless KEEP=1.
#   KEEP=1                   keep the work directory (venv, build, logs).
#
# The interpreter itself is not instrumented, so the sanitizer runtimes are
# loaded first with LD_PRELOAD. Leak detection is off because CPython and
# Numba keep allocations alive until exit by design. Any ASan report or
# UBSan finding aborts the process, so a clean exit means no findings.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="${MATHLEARN_SANITIZE_DIR:-$(mktemp -d -t mathlearn-sanitize.XXXXXX)}"
cleanup() {
    if [[ "${KEEP:-0}" != "1" ]]; then
        rm -rf "$work"
    else
        echo "sanitize.sh: kept $work"
    fi
}
trap cleanup EXIT

cxx="${CXX:-g++}"
libasan="$("$cxx" -print-file-name=libasan.so)"
libubsan="$("$cxx" -print-file-name=libubsan.so)"
for lib in "$libasan" "$libubsan"; do
    if [[ ! -e "$lib" ]]; then
        echo "sanitize.sh: $lib not found; install the sanitizer runtimes of $cxx (libasan, libubsan)." >&2
        exit 2
    fi
done

echo "sanitize.sh: building in $work"
python3 -m venv --system-site-packages "$work/venv"
# A separate build directory, so the sanitized objects never mix with the
# regular build under build/.
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-deps \
    --config-settings=cmake.define.MATHLEARN_SANITIZE=ON \
    --config-settings=build-dir="$work/build" \
    "$root"

core="$("$work/venv/bin/python" -c 'import importlib.util as u; print(u.find_spec("mathlearn._core").origin)')"
case "$core" in
    "$work"/venv/*) ;;
    *) echo "sanitize.sh: mathlearn._core resolves to $core, not to the sanitized build." >&2; exit 2 ;;
esac
if ! ldd "$core" | grep -q libasan; then
    echo "sanitize.sh: $core is not linked against libasan; MATHLEARN_SANITIZE was not applied." >&2
    exit 2
fi

export LD_PRELOAD="$libasan:$libubsan"
# allocator_may_return_null: an impossible allocation raises MemoryError, as
# without ASan, instead of aborting.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:check_initialization_order=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Python objects through malloc, so ASan checks their accesses as well.
export PYTHONMALLOC=malloc
# Numba compiles into its cache once per source file; a throwaway cache
# keeps the run independent of the caches of the regular build.
export NUMBA_CACHE_DIR="$work/numba-cache"

echo "sanitize.sh: running the tests with $core"
cd "$root/tests"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
