"""Count passed/failed tests from meson's testlog.json files (make test's,
then make test-sanitize's), into one line.

A log that is missing or empty means its build failed before any test
ran: that counts as one failure.

A criterion suite prints "Synthesis: Tested: N | Passing: P | Failing: F |
Crashing: C"; such a suite counts as its individual tests. Any other meson
test counts as one. A suite whose meson result is not OK but whose synthesis
shows no failure (a crash, a timeout) still counts one failure.

Each failed test's own words come last, before the count, so that the tail
of a CI log says why: the lines around criterion's [FAIL] reports, or the
last lines of any other test's output (a fuzzer's crash report).
"""
import json
import re
import sys

SYN = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                 r"Failing: (\d+) \| Crashing: (\d+)")
passed = failed = skipped = 0
why = []  # (name, run, lines) of each failed test
TAIL = 25
FUZZ_DIED = re.compile(r"==\d+==\s*ERROR|deadly signal|ALARM: working on "
                       r"the last Unit|out-of-memory \(used")
# and, of the stack, the frames in C sources (not libFuzzer's C++ ones)
FUZZ_KEEP = re.compile(r"SUMMARY:|Base64:|Test unit written|"
                       r"^\s*#\d+ .*\.c:\d+")


def excerpt(out):
    """What a failed test said: criterion's failures, or its last lines."""
    ls = out.splitlines()
    fails = [i for i, x in enumerate(ls)
             if "[FAIL]" in x or "Assertion Failed" in x or "CRASH" in x]
    if fails:
        keep = sorted({j for i in fails for j in range(max(0, i - 1),
                                                       min(len(ls), i + 4))})
        return [ls[j] for j in keep][:TAIL]
    # A fuzzer's report: what the target printed right before it died,
    # the sanitizer's verdict and first frames, and the input.
    first = next((i for i, x in enumerate(ls) if FUZZ_DIED.search(x)), None)
    if first is not None:
        keep = ls[max(0, first - 4):first + 1] + [
            x for x in ls[first + 1:] if FUZZ_KEEP.search(x)]
        return keep[:TAIL]
    return ls[-TAIL:]


def lines(path):
    """The log's records; none (and one failure) when it is missing."""
    global failed
    try:
        with open(path) as f:
            records = [json.loads(x) for x in f if x.strip()]
    except OSError:
        records = []
    if not records:
        print(f"no meson test log {path}: the build failed before any "
              "test ran")
        failed += 1
    return records


for path in sys.argv[1:]:
    # Which run a failure is from: the same tests run in both builds.
    run = "sanitize" if "sanitize" in path else "test"
    for t in lines(path):
        result = t.get("result")
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = SYN.search(out)
        if result not in ("OK", "EXPECTEDFAIL", "SKIP") or (
                m and int(m.group(3)) + int(m.group(4))):
            why.append((t.get("name"), run, excerpt(out)))
        if result == "SKIP":
            skipped += 1
            continue
        if m:
            p, f, c = int(m.group(2)), int(m.group(3)), int(m.group(4))
            passed += p
            failed += f + c
            # A crash, a timeout or (make test-sanitize) a sanitizer
            # report after every test passed.
            if result not in ("OK", "EXPECTEDFAIL") and f + c == 0:
                failed += 1
                print(f"failed: {t.get('name')} ({result}, {run})")
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
            print(f"failed: {t.get('name')} ({result}, {run})")
for name, run, said in why:
    print(f"--- {name} ({run}) said:")
    for x in said:
        print(f"  {x[:300]}")
print(f"{passed} passed, {failed} failed" +
      (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
