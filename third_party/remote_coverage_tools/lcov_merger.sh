#!/bin/bash
# Turns the *.gcov.json.gz files that gcc's `gcov -i` leaves in --coverage_dir into one lcov file.
exec /usr/bin/python3 - "$@" <<'PY'
import glob, gzip, json, os, re, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
cov_dir = args.get("coverage_dir", os.environ.get("COVERAGE_DIR", "."))
out = args.get("output_file", os.environ.get("COVERAGE_OUTPUT_FILE", "coverage.dat"))
flt = args.get("filter_sources", "")
skip = [re.compile(p) for p in flt.split(",") if p]
with open(out, "w") as o:
    for path in glob.glob(os.path.join(cov_dir, "**", "*.gcov.json.gz"), recursive=True):
        with gzip.open(path, "rt") as f:
            data = json.load(f)
        for fi in data.get("files", []):
            name = fi["file"]
            if any(s.search(name) for s in skip):
                continue
            o.write("SF:%s\n" % name)
            for fn in fi.get("functions", []):
                o.write("FN:%d,%s\n" % (fn["start_line"], fn["name"]))
                o.write("FNDA:%d,%s\n" % (fn["execution_count"], fn["name"]))
            lines = fi.get("lines", [])
            for ln in lines:
                o.write("DA:%d,%d\n" % (ln["line_number"], ln["count"]))
            o.write("LH:%d\nLF:%d\nend_of_record\n" % (sum(1 for l in lines if l["count"]), len(lines)))
PY
