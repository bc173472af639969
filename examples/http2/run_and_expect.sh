#!/bin/bash
# Runs an example program (bounded by a timeout) and checks that it exits 0 and prints a line.
program=$1 expected=$2
out=$(timeout 30 "$program" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "exit code $rc"; exit 1; }
grep -qxF "$expected" <<<"$out" || { echo "missing line: $expected"; exit 1; }
