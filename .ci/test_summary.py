#!/usr/bin/env python3
"""Prints 'N passed, N failed, N skipped' for the Bazel test targets listed on stdin.

Usage: test_summary.py TESTLOGS_DIR [--bep FILE] < targets.txt

Counts test cases from each target's test.xml (shards and runs included): a <testcase> with
<failure> or <error> failed; one with <skipped>, status="notrun" or result="skipped"/"suppressed"
(GTEST_SKIP, DISABLED_) was skipped; any other passed. Nothing is silently green:
  - a target with no test.xml counts as one failure;
  - with --bep, only the test.xml files the run names count (the last attempt of each run and
    shard, cached or not): a run_*/shard_* directory left by an earlier --runs_per_test or
    sharding is ignored;
  - with --bep (the run's --build_event_json_file), a target this run did not test (no test
    summary, NO_STATUS, FAILED_TO_BUILD, INCOMPLETE, cancelled...) counts as one failure even if
    an old test.xml is lying in TESTLOGS_DIR, and a target whose status is FAILED or TIMEOUT
    counts at least one failure whatever its test.xml says;
  - an empty target list is a failure (the query went wrong).
Each problem is named on stderr. Exit status 1 if anything failed, else 0.
"""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

RAN = {"PASSED", "FLAKY", "FAILED", "TIMEOUT"}
FAILING = {"FAILED", "TIMEOUT"}


def count_xml(xml_path, failures=None):
    """(passed, failed, skipped) test cases in one test.xml; failed cases' names go to
    `failures` (a list) when given."""
    passed = failed = skipped = 0
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            if failures is not None:
                failures.append(case.get("name", "?"))
        elif (case.find("skipped") is not None or case.get("status") == "notrun"
              or case.get("result") in ("skipped", "suppressed")):
            skipped += 1
        else:
            passed += 1
    if passed == failed == skipped == 0:
        # A test.xml without test cases: trust the suite's own error count.
        errors = sum(int(s.get("failures", 0) or 0) + int(s.get("errors", 0) or 0)
                     for s in root.iter("testsuite"))
        if errors:
            failed = 1
    return passed, failed, skipped


def bep_events(path):
    """The events of a build event JSON file (one per line; unreadable lines skipped)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError:
                continue


def read_bep(path):
    """{label: overall status} from a build event JSON file (one event per line)."""
    status = {}
    for event in bep_events(path):
        summary_id = event.get("id", {}).get("testSummary")
        if not summary_id:
            continue
        label = summary_id.get("label", "")
        if "testSummary" in event:
            # proto3 JSON leaves out the default value: no overallStatus is NO_STATUS.
            status[label] = event["testSummary"].get("overallStatus", "NO_STATUS")
        else:
            status.setdefault(label, "ABORTED")  # an 'aborted' event in its place
    return status


def read_bep_xmls(path):
    """{label: [test.xml paths]} from a build event JSON file: for each run and shard of a
    target, the test.xml of its last attempt (earlier attempts of a FLAKY target are retries)."""
    last = {}  # (label, run, shard) -> (attempt, path)
    for event in bep_events(path):
        rid = event.get("id", {}).get("testResult")
        if not rid or "testResult" not in event:
            continue
        key = (rid.get("label", ""), rid.get("run", 1), rid.get("shard", 1))
        attempt = rid.get("attempt", 1)
        for out in event["testResult"].get("testActionOutput", []):
            uri = out.get("uri", "")
            if out.get("name") == "test.xml" and uri.startswith("file://"):
                if key not in last or last[key][0] < attempt:
                    last[key] = (attempt, uri[len("file://"):])
    xmls = {}
    for (label, _, _), (_, xml) in sorted(last.items()):
        xmls.setdefault(label, []).append(xml)
    return xmls


def xml_files(logs, label):
    pkg, _, name = label[2:].partition(":")
    base = os.path.join(logs, pkg, name)
    return sorted(glob.glob(os.path.join(base, "test.xml")) +
                  glob.glob(os.path.join(base, "*", "test.xml")))


def summarize(logs, labels, bep_status=None, err=sys.stderr, bep_xmls=None):
    passed = failed = skipped = 0
    for label in labels:
        status = None
        if bep_status is not None:
            status = bep_status.get(label, "NOT_RUN")
            if status not in RAN:
                print("not run: %s (%s)" % (label, status), file=err)
                failed += 1
                continue
        if bep_xmls is not None and label in bep_xmls:
            xmls = bep_xmls[label]
        else:
            xmls = xml_files(logs, label)
        if not xmls:
            print("no test result for %s" % label, file=err)
            failed += 1
            continue
        p = f = s = 0
        for x in xmls:
            names = []
            try:
                dp, df, ds = count_xml(x, names)
                for name in names:
                    print("failed: %s: %s (%s)" % (label, name, x), file=err)
            except (ET.ParseError, OSError):
                print("unreadable test.xml: %s" % x, file=err)
                dp, df, ds = 0, 1, 0
            p, f, s = p + dp, f + df, s + ds
        if status in FAILING and f == 0:
            print("%s: %s with no failed test case in its test.xml" % (label, status), file=err)
            f = 1
        if status == "FLAKY":
            print("flaky: %s (passed on a retry)" % label, file=err)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if not labels:
        print("no test targets", file=err)
        failed += 1
    return passed, failed, skipped


def main(argv):
    args = argv[1:]
    bep = None
    extra_skipped = 0
    if "--skipped" in args:  # tests the suite did not run by design (.ci/test.sh --skip-tag)
        i = args.index("--skipped")
        extra_skipped = int(args[i + 1])
        del args[i:i + 2]
    if "--bep" in args:
        i = args.index("--bep")
        bep = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    labels = [l.strip() for l in sys.stdin if l.strip().startswith("//")]
    bep_status = bep_xmls = None
    if bep is not None:
        try:
            bep_status = read_bep(bep)
            bep_xmls = read_bep_xmls(bep)
        except OSError as e:
            print("cannot read the build event file: %s" % e, file=sys.stderr)
            bep_status = {}
    passed, failed, skipped = summarize(args[0], labels, bep_status, bep_xmls=bep_xmls)
    skipped += extra_skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
