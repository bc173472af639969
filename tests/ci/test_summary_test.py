#!/usr/bin/python3
"""Tests of .ci/test_summary.py (the 'N passed, N failed, N skipped' line of make test/asan).

Builds Bazel-like testlogs trees from the sample test.xml files in testdata/ and a build event
file, and checks what is counted — above all that nothing that did not run reads as green.
Usage: test_summary_test.py PATH_TO_test_summary.py   (Bazel passes it; see BUILD.bazel)
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")


def load_module():
    spec = importlib.util.spec_from_file_location("test_summary", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ts = load_module()


class Sink:
    """Collects what the summary prints on stderr."""

    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.append(s)

    def text(self):
        return "".join(self.lines)


class TestSummaryTest(unittest.TestCase):
    def setUp(self):
        self.logs = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.logs)

    def put(self, label, sample, shard=None):
        pkg, _, name = label[2:].partition(":")
        d = os.path.join(self.logs, pkg, name, *([shard] if shard else []))
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(DATA, sample), os.path.join(d, "test.xml"))

    def summarize(self, labels, bep=None):
        err = Sink()
        counts = ts.summarize(self.logs, labels, bep, err=err)
        return counts, err.text()

    def test_gtest_cases_pass_fail_and_skip(self):
        self.put("//rpc:a_test", "gtest_mixed.xml")
        # GTEST_SKIP (<skipped>, result="skipped") and DISABLED_ (status="notrun") are skipped.
        self.assertEqual(self.summarize(["//rpc:a_test"])[0], (1, 1, 2))

    def test_bazel_generated_xml(self):
        self.put("//tests/conformance:h2_client_test", "sh_test_passed.xml")
        self.put("//rpc:rpc_test", "crashed.xml")
        (p, f, s), err = self.summarize(["//tests/conformance:h2_client_test", "//rpc:rpc_test"])
        self.assertEqual((p, f, s), (1, 1, 0))

    def test_shards_all_count(self):
        self.put("//transport:session_test", "sh_test_passed.xml", "shard_1_of_2")
        self.put("//transport:session_test", "gtest_mixed.xml", "shard_2_of_2")
        self.assertEqual(self.summarize(["//transport:session_test"])[0], (2, 1, 2))

    def test_no_test_xml_is_a_failure(self):
        (p, f, s), err = self.summarize(["//rpc:never_ran_test"])
        self.assertEqual((p, f, s), (0, 1, 0))
        self.assertIn("no test result for //rpc:never_ran_test", err)

    def test_unreadable_xml_is_a_failure(self):
        d = os.path.join(self.logs, "rpc", "b_test")
        os.makedirs(d)
        with open(os.path.join(d, "test.xml"), "w") as f:
            f.write("<testsuites><testsuite")  # cut short
        self.assertEqual(self.summarize(["//rpc:b_test"])[0], (0, 1, 0))

    def test_not_run_this_time_is_a_failure_despite_an_old_xml(self):
        # A passing test.xml from an earlier run is still in testlogs.
        for label in ("//a:no_status", "//a:not_built", "//a:no_event", "//a:aborted"):
            self.put(label, "sh_test_passed.xml")
        bep = {"//a:no_status": "NO_STATUS", "//a:not_built": "FAILED_TO_BUILD",
               "//a:aborted": "ABORTED"}
        (p, f, s), err = self.summarize(
            ["//a:no_status", "//a:not_built", "//a:no_event", "//a:aborted"], bep)
        self.assertEqual((p, f, s), (0, 4, 0))
        self.assertIn("not run: //a:not_built (FAILED_TO_BUILD)", err)
        self.assertIn("not run: //a:no_event (NOT_RUN)", err)

    def test_failed_status_counts_even_if_the_xml_says_passed(self):
        # e.g. a test that wrote its XML, then crashed at exit (a leak report).
        self.put("//a:leaky_test", "sh_test_passed.xml")
        self.put("//a:slow_test", "sh_test_passed.xml")
        (p, f, s), _ = self.summarize(["//a:leaky_test", "//a:slow_test"],
                                      {"//a:leaky_test": "FAILED", "//a:slow_test": "TIMEOUT"})
        self.assertEqual(f, 2)

    def test_passed_and_flaky_count_their_cases(self):
        self.put("//a:ok_test", "sh_test_passed.xml")
        self.put("//a:flaky_test", "sh_test_passed.xml")
        (p, f, s), err = self.summarize(["//a:ok_test", "//a:flaky_test"],
                                        {"//a:ok_test": "PASSED", "//a:flaky_test": "FLAKY"})
        self.assertEqual((p, f, s), (2, 0, 0))
        self.assertIn("flaky: //a:flaky_test", err)

    def test_no_targets_is_a_failure(self):
        self.assertEqual(self.summarize([])[0], (0, 1, 0))

    def run_script(self, labels, bep_lines=None, extra=()):
        args = [sys.executable, SCRIPT, self.logs] + list(extra)
        if bep_lines is not None:
            bep = os.path.join(self.logs, "bep.json")
            with open(bep, "w") as f:
                for event in bep_lines:
                    f.write(json.dumps(event) + "\n")
            args += ["--bep", bep]
        r = subprocess.run(args, input="\n".join(labels) + "\n", capture_output=True, text=True,
                           check=False)
        return r.returncode, r.stdout

    @staticmethod
    def summary_event(label, status=None):
        event = {"id": {"testSummary": {"label": label, "configuration": {"id": "x"}}},
                 "testSummary": {"totalRunCount": 1}}
        if status:
            event["testSummary"]["overallStatus"] = status
        return event

    def test_command_line_green(self):
        self.put("//a:ok_test", "sh_test_passed.xml")
        rc, out = self.run_script(["//a:ok_test"], [self.summary_event("//a:ok_test", "PASSED")])
        self.assertEqual((rc, out), (0, "1 passed, 0 failed, 0 skipped\n"))

    def test_command_line_red(self):
        self.put("//a:mixed_test", "gtest_mixed.xml")
        self.put("//a:ok_test", "sh_test_passed.xml")
        # proto3 JSON leaves NO_STATUS (the default) out: no overallStatus at all.
        events = [self.summary_event("//a:mixed_test", "FAILED"),
                  self.summary_event("//a:ok_test"),
                  {"id": {"progress": {"opaqueCount": 1}}, "progress": {}}]
        rc, out = self.run_script(["//a:mixed_test", "//a:ok_test"], events)
        self.assertEqual((rc, out), (1, "1 passed, 2 failed, 2 skipped\n"))

    def test_command_line_without_bep(self):
        self.put("//a:mixed_test", "gtest_mixed.xml")
        rc, out = self.run_script(["//a:mixed_test"])
        self.assertEqual((rc, out), (1, "1 passed, 1 failed, 2 skipped\n"))

    @staticmethod
    def result_event(label, xml, attempt=1, run=1):
        return {"id": {"testResult": {"label": label, "run": run, "shard": 1, "attempt": attempt,
                                      "configuration": {"id": "x"}}},
                "testResult": {"status": "PASSED",
                               "testActionOutput": [{"name": "test.xml", "uri": "file://" + xml}]}}

    def test_bep_names_the_xml_files_of_this_run(self):
        # An earlier `bazel test --runs_per_test=3` left run_*_of_3 directories (one failing);
        # this run tested the target once (test.xml at the top): only that file counts.
        self.put("//a:ok_test", "sh_test_passed.xml")
        self.put("//a:ok_test", "gtest_mixed.xml", "run_1_of_3")
        self.put("//a:ok_test", "sh_test_passed.xml", "run_2_of_3")
        top = os.path.join(self.logs, "a", "ok_test", "test.xml")
        events = [self.summary_event("//a:ok_test", "PASSED"), self.result_event("//a:ok_test", top)]
        rc, out = self.run_script(["//a:ok_test"], events)
        self.assertEqual((rc, out), (0, "1 passed, 0 failed, 0 skipped\n"))
        # Without the build event file every test.xml found is counted (the failing one too).
        rc, out = self.run_script(["//a:ok_test"])
        self.assertEqual((rc, out), (1, "3 passed, 1 failed, 2 skipped\n"))

    def test_bep_counts_the_last_attempt_of_each_run(self):
        # A FLAKY target: attempt 1 failed (its XML kept aside), attempt 2 passed; two runs.
        self.put("//a:flaky_test", "gtest_mixed.xml", "attempt_1")
        self.put("//a:flaky_test", "sh_test_passed.xml", "run_1_of_2")
        self.put("//a:flaky_test", "sh_test_passed.xml", "run_2_of_2")
        d = os.path.join(self.logs, "a", "flaky_test")
        events = [self.summary_event("//a:flaky_test", "FLAKY"),
                  self.result_event("//a:flaky_test", os.path.join(d, "attempt_1", "test.xml")),
                  self.result_event("//a:flaky_test", os.path.join(d, "run_1_of_2", "test.xml"),
                                    attempt=2),
                  self.result_event("//a:flaky_test", os.path.join(d, "run_2_of_2", "test.xml"),
                                    run=2)]
        rc, out = self.run_script(["//a:flaky_test"], events)
        self.assertEqual((rc, out), (0, "2 passed, 0 failed, 0 skipped\n"))

    def test_failed_cases_are_named(self):
        self.put("//rpc:a_test", "gtest_mixed.xml")
        (p, f, s), err = self.summarize(["//rpc:a_test"])
        self.assertEqual(f, 1)
        self.assertIn("failed: //rpc:a_test: ", err)

    def test_tests_left_out_by_design_count_as_skipped(self):
        # .ci/test.sh --skip-tag=no_tsan: those tests are listed and counted, not dropped.
        self.put("//a:ok_test", "sh_test_passed.xml")
        rc, out = self.run_script(["//a:ok_test"], [self.summary_event("//a:ok_test", "PASSED")],
                                  extra=["--skipped", "3"])
        self.assertEqual((rc, out), (0, "1 passed, 0 failed, 3 skipped\n"))


if __name__ == "__main__":
    unittest.main()
