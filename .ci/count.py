"""Count passed/failed tests from meson's testlog.json files (make test's,
then make test-sanitize's), into one line.

A log that is missing or empty means its build failed before any test
ran: that counts as one failure.

A criterion suite prints "Synthesis: Tested: N | Passing: P | Failing: F |
Crashing: C"; such a suite counts as its individual tests. Any other meson
test counts as one. A suite whose meson result is not OK but whose synthesis
shows no failure (a crash, a timeout) still counts one failure.
"""
import json
import re
import sys

SYN = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                 r"Failing: (\d+) \| Crashing: (\d+)")
passed = failed = skipped = 0


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
        m = SYN.search((t.get("stdout") or "") + (t.get("stderr") or ""))
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
print(f"{passed} passed, {failed} failed" +
      (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
