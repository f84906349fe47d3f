"""Counts the test cases in meson test logs: "tests: N passed, M failed".

A test whose output carries doctest's summary counts as its cases; any other test (a script)
counts as one case. A test meson failed counts as one failure at least, even if its doctest
summary (printed before, say, a sanitizer's report at exit) showed none.
"""
import json
import re
import sys

SUMMARY = re.compile(r"\[doctest\] test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed")

passed = failed = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            lines = [json.loads(line) for line in log if line.strip()]
    except OSError as e:
        print(f"count_tests: cannot read {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for test in lines:
        ok = test.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        found = SUMMARY.findall(test.get("stdout") or "")
        if found:
            _, p, f = (int(x) for x in found[-1])
            passed += p
            failed += f if f or ok else 1
        elif ok:
            passed += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed")
