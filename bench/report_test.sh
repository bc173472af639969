#!/bin/bash
# report_test: runs bench/report_test.py (python3 from Debian) on bench/testdata.
exec /usr/bin/python3 "$@"
