"""Count passed/failed tests from meson's testlog.json.

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
for line in open(sys.argv[1]):
    t = json.loads(line)
    result = t.get("result")
    m = SYN.search((t.get("stdout") or "") + (t.get("stderr") or ""))
    if result == "SKIP":
        skipped += 1
        continue
    if m:
        p, f, c = int(m.group(2)), int(m.group(3)), int(m.group(4))
        passed += p
        failed += f + c
        if result not in ("OK", "EXPECTEDFAIL") and f + c == 0:
            failed += 1
    elif result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    else:
        failed += 1
        print(f"failed: {t.get('name')} ({result})")
print(f"{passed} passed, {failed} failed" +
      (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
