#!/bin/sh
# meson test --wrapper for the ASan+UBSan build (make test-sanitize).
#
# A test passes only if no process it started reported anything: the test
# binary, criterion's per-test children, the mvm it spawns and whatever mvm
# forks. Exit codes alone cannot tell: criterion has already recorded a
# test as passed when LeakSanitizer reports at the child's exit, and a test
# that kills mvm never sees mvm's exit status. So every report goes to a
# file in a directory of this test's own (log_path), and the test fails if
# that directory holds anything afterwards; the reports are printed, so
# they are in meson's log.
#
#   sanitize-wrap.sh TEST [ARGS...]
set -u
name=$(basename "$1")
dir=$(mktemp -d "${TMPDIR:-/tmp}/mvm-sanitize-$name.XXXXXX") || exit 1
# Some tests run mvm as another user (nobody): its reports must land too.
chmod 0777 "$dir"
supp=$(cd "$(dirname "$0")" && pwd)/lsan.supp
# halt_on_error: the first report ends the process (UBSan is built with
# -fno-sanitize-recover as well). abort_on_error stays off, so a report
# is an exit code, not a core dump. fast_unwind_on_malloc=0: full
# allocation stacks through libraries built without frame pointers, which
# lsan.supp's one entry needs.
ASAN_OPTIONS="log_path=$dir/asan:detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="log_path=$dir/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
LSAN_OPTIONS="suppressions=$supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Tests that measure the allocator itself (RSS) skip that check here.
MVM_SANITIZE=1
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS MVM_SANITIZE
"$@"
rc=$?
reports=$(find "$dir" -type f | sort)
if [ -n "$reports" ]; then
	for f in $reports; do
		echo "=== sanitizer report $(basename "$f") ===" >&2
		cat "$f" >&2
	done
	[ $rc -ne 0 ] || rc=1
fi
rm -rf "$dir"
exit $rc
