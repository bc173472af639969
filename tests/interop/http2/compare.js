// compare.js — compares scenario outputs ({"client": ..., "server": ...} as printed by
// node_scenario_client.js / scenario_client.cc) after normalisation.
//   node compare.js BASELINE OTHER LABEL   exit 0 if equal, else prints a line diff and exits 1
//   node compare.js --print FILE           prints the normalised document (one event per line)
//
// normalise() is the ONE place where differences are smoothed over. Everything else must match
// exactly. Each rule says why the difference is not a property of the implementation under test.
'use strict';
const fs = require('node:fs');

function normaliseEvents(events) {
  const out = [];
  for (const e of events) {
    // Rule 1: GOAWAY repeats. Node's session.close() sends GOAWAY(NO_ERROR) and, when the session
    // is then destroyed, nghttp2_session_terminate_session() sends a second one; a peer that
    // receives GOAWAY also answers with close() (one more). How many of these arrive before the
    // TCP connection is gone is a race even Node vs Node (seen: 1, 2 or 3 on the same scenario),
    // so consecutive identical 'goaway ...' entries count as one.
    if (e.startsWith('goaway ') && out.length > 0 && out[out.length - 1] === e) continue;
    out.push(e);
  }
  return out;
}

function normalise(doc) {
  const walk = (v) => {
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x === 'string')) return normaliseEvents(v);
      return v.map(walk);
    }
    if (v && typeof v === 'object') {
      const o = {};
      for (const k of Object.keys(v).sort()) o[k] = walk(v[k]);
      return o;
    }
    return v;
  };
  return walk(doc);
}

function load(file) {
  const text = fs.readFileSync(file, 'utf8').trim();
  try {
    return JSON.parse(text);
  } catch (e) {
    return { '!unparsable_output': text.slice(0, 2000) };
  }
}

// One line per event: "client.get.stream[2] = end".
function lines(doc) {
  const out = [];
  const walk = (v, path) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], path ? `${path}.${k}` : k);
    else out.push(`${path} = ${v}`);
  };
  walk(doc, '');
  return out;
}

// A small LCS line diff (documents are a few hundred lines).
function diff(a, b) {
  const n = a.length, m = b.length;
  const dp = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; --i) {
    for (let j = m - 1; j >= 0; --j) {
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { ++i; ++j; }
    else if (j < m && (i === n || dp[i][j + 1] >= dp[i + 1][j])) out.push(`+ ${b[j++]}`);
    else out.push(`- ${a[i++]}`);
  }
  return out;
}

const argv = process.argv.slice(2);
if (argv[0] === '--print') {
  for (const l of lines(normalise(load(argv[1])))) console.log(l);
  process.exit(0);
}
const [baseFile, otherFile, label] = argv;
const a = lines(normalise(load(baseFile)));
const b = lines(normalise(load(otherFile)));
const d = diff(a, b);
if (d.length === 0) {
  console.log(`SAME  ${label}: ${a.length} events identical to the baseline`);
  process.exit(0);
}
console.log(`DIFF  ${label}: ${d.length} lines differ ('-' baseline node x node, '+' ${label})`);
for (const l of d) console.log(`   ${l}`);
process.exit(1);
