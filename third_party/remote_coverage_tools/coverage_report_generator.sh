#!/bin/bash
# Concatenates the per-test lcov files listed in --reports_file into --output_file.
reports=""; out=""
for a in "$@"; do
  case "$a" in
    --reports_file=*) reports="${a#*=}" ;;
    --output_file=*) out="${a#*=}" ;;
  esac
done
[ -n "$out" ] || exit 0
: > "$out"
[ -n "$reports" ] && [ -f "$reports" ] && while read -r f; do [ -f "$f" ] && cat "$f" >> "$out"; done < "$reports"
exit 0
