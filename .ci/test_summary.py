#!/usr/bin/env python3
"""Prints 'N passed, N failed' for the given Bazel test targets, counted from their test.xml.

Each <testcase> is one test; a target that produced no test.xml (it failed to build or crashed
before writing one) counts as one failure. Usage: test_summary.py TESTLOGS_DIR < targets.txt
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def count(xml_path):
    passed = failed = 0
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("status", "run") == "run" and case.find("skipped") is None:
            passed += 1
    if passed == 0 and failed == 0:
        # A test.xml without testcases: trust the suite's own error count.
        errors = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))
        if errors:
            failed = 1
    return passed, failed


def main():
    logs = sys.argv[1]
    passed = failed = 0
    for line in sys.stdin:
        label = line.strip()
        if not label.startswith("//"):
            continue
        pkg, _, name = label[2:].partition(":")
        xmls = glob.glob(os.path.join(logs, pkg, name, "test.xml")) + glob.glob(
            os.path.join(logs, pkg, name, "*", "test.xml"))
        if not xmls:
            print("no test result for %s" % label, file=sys.stderr)
            failed += 1
            continue
        for x in xmls:
            try:
                p, f = count(x)
            except ET.ParseError:
                p, f = 0, 1
            passed += p
            failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
