#!/usr/bin/env python3
"""Checks transport/README.md's "Node name -> C++ name" tables against the spec and the code.

  api_table.py check README ELEMENTS ROOT   every spec element has exactly one row, every row at
                                            most one element; every test a row names exists
                                            under ROOT; states are known
  api_table.py gencc README OUT.cc          writes C++ that compiles only if every C++ name the
                                            tables' C++ column quotes exists (//transport:api_table_check)

A table row is `| Node | C++ | state | test |`:
- Node starts with the name of the one spec element it renders, in backticks (as
  transport/testdata/node_http2_api_elements.txt lists it): one row per element, so each has its
  own C++ name, state and test; a row that starts otherwise (a sub-case, or "—" for what Node
  does not have) renders no element. A row starting with two elements ("`a`, `b`") is an error.
- C++: every backticked span that is a C++ (qualified) identifier, or starts with one followed by
  "(", "{" or "<", names a symbol: `A::b` a member of class A (or of namespace constants/transport),
  `Name` (upper case) a type or function of h2rpc::transport, `name(…)` in the module section a
  free function, any other `name` a member of a class of the table's section (SECTIONS), of a
  class the row qualifies a name with, or else of any public class (ALL_CLASSES). Spans in
  ALL_CAPS or MACRO_Style (error codes, OpenSSL flags), `kCode`s, test names (`FooTest`,
  `foo_test`) and IGNORED words are prose. The member check derives from the class (has_X<T>):
  a `final` class would stop the build; none of transport/'s is final, keep it so or give it its
  own check.
- state: done, deviation or n/a.
- test: `Suite.Case` (a TEST/TEST_F/TEST_P in some *_test.cc; `*` matches any suffix),
  `//pkg:target` (a *_test rule in pkg's BUILD file), several separated by ", ", or `—` (only for
  deviation and n/a rows; the reason is in the row or in "Deviations from Node 20").
"""
import os
import re
import sys

# Section heading (### or ##, a prefix) -> classes an unqualified member name may belong to.
# None: the module's free functions (h2rpc::transport::name).
SECTIONS = [
    ('Module functions and objects', None),
    ('Http2Session', ['Http2Session', 'ServerHttp2Session', 'ClientHttp2Session']),
    ('Http2Stream', ['Http2Stream', 'ServerHttp2Stream', 'ClientHttp2Stream']),
    ('Http2Server', ['Http2Server']),
    ('Options', ['SessionOptions', 'ServerOptions', 'ConnectOptions', 'TlsOptions']),
    ('Compatibility API', ['Http2ServerRequest', 'Http2ServerResponse', 'RequestEvents',
                           'ProxySocket', 'Http1Server']),
]
# Every public class of transport/ (HEADERS): an unqualified member name found in none of the
# section's or the row's classes may belong to a helper type the row describes in prose
# (`PeerCertificate`'s fields, an options struct); it still has to exist somewhere.
ALL_CLASSES = [
    'AbortController', 'AbortSignal', 'Authority', 'SharedBuffer', 'ConnectOptions',
    'EventLoop', 'Headers', 'ManualLoop', 'MemoryQuota', 'MemorySocket',
    'Http2SessionPerformanceDetail', 'Http2StreamPerformanceDetail', 'PerformanceEntry',
    'PerformanceObserverOptions', 'PerformanceObserver', 'ServerOptions', 'ListenOptions',
    'Http2Server', 'SessionOptions', 'SessionState', 'Http2Session', 'ServerHttp2Session',
    'ClientHttp2Session', 'SessionTimeoutOptions', 'GracefulCloseOptions', 'SessionTimeouts',
    'Settings', 'Socket', 'SocketAddress', 'SystemErrorInfo', 'StreamState', 'PriorityOptions',
    'Http2Stream', 'RespondOptions', 'FileRange', 'RespondWithFileOptions', 'PushStreamOptions',
    'ServerHttp2Stream', 'RequestOptions', 'ClientHttp2Stream', 'PeerCertificate', 'TlsOptions',
    'TlsContext', 'TlsEngine', 'TlsSocket', 'UvLoopOptions', 'LoopExecutor', 'UvLoop',
    'UvLoopThread', 'UvSocket', 'RequestEvents', 'CompatStream', 'ProxySocket',
    'Http2ServerRequest', 'Http2ServerResponse', 'Http1Options', 'Http1Connection',
    'Http1Server']
NAMESPACES = {'constants': 'h2rpc::transport::constants', 'transport': 'h2rpc::transport',
              'h2rpc::transport': 'h2rpc::transport'}
# Spans that look like identifiers but are prose: values, header names, protocol ids.
IGNORED = {'true', 'false', 'nullopt', 'nullptr', 'null', 'undefined', 'same', 'h2', 'date',
           'connection', 'link', 'host', 'localhost', 'websocket', 'auto', 'std', 'absl',
           'cb', 'fn', 'once', 'shared_ptr', 'unique_ptr', 'span', 'vector', 'string',
           'StatusOr', 'Status'}
STATES = {'done', 'deviation', 'n/a'}
DASH = '—'
IDENT = r'[A-Za-z_][A-Za-z0-9_]*'
QUALIFIED = re.compile(r'^(?:%s::)*%s$' % (IDENT, IDENT))
SPAN = re.compile(r'`([^`]+)`')
TEST_DEF = re.compile(r'\bTEST(?:_F|_P)?\(\s*(%s)\s*,\s*(%s)\s*\)' % (IDENT, IDENT))
RULE = re.compile(r'\b(\w+)\(\s*name\s*=\s*"([^"]+)"')


class Row:
  def __init__(self, line, section, cells):
    self.line, self.section = line, section
    self.node, self.cpp, self.state, self.test = cells

  def elements(self):
    """The spec elements the Node cell starts with."""
    names, rest = [], self.node
    while True:
      m = re.match(r"`([^`]+)`(,\s*|$|[\s:(])", rest)
      if not m:
        return names
      names.append(m.group(1))
      if not m.group(2).startswith(','):
        return names
      rest = rest[m.end():]

  def label(self):
    return 'README line %d (%s)' % (self.line, self.node[:60])


def split_cells(line):
  # Cells are separated by "|" outside backticks ("\|" inside a span is an escaped pipe).
  cells, cur, code = [], '', False
  body = line.strip()[1:-1] if line.strip().endswith('|') else line.strip()[1:]
  i = 0
  while i < len(body):
    c = body[i]
    if c == '\\' and i + 1 < len(body) and body[i + 1] == '|':
      cur += '|'
      i += 2
      continue
    if c == '`':
      code = not code
    if c == '|' and not code:
      cells.append(cur.strip())
      cur = ''
    else:
      cur += c
    i += 1
  cells.append(cur.strip())
  return cells


def parse_readme(text):
  """Returns (rows, errors) of the tables whose header starts with `| Node`."""
  rows, errors = [], []
  section, in_table = None, False
  for n, line in enumerate(text.splitlines(), 1):
    h = re.match(r'^#{2,3} (.*)', line)
    if h:
      section, in_table = h.group(1).strip(), False
      continue
    if not line.startswith('|'):
      in_table = False
      continue
    if re.match(r'^\| *Node', line):
      header = split_cells(line)
      if len(header) != 4 or header[3] != 'test':
        errors.append('README line %d: a Node table has 4 columns: Node | C++ | state | test' % n)
      in_table = True
      continue
    if not in_table or re.match(r'^\|[-| :]+\|$', line):
      continue
    cells = split_cells(line)
    if len(cells) != 4:
      errors.append('README line %d: %d cells, not 4' % (n, len(cells)))
      continue
    rows.append(Row(n, section, cells))
  return rows, errors


def collect_tests(root):
  tests, targets = set(), {}
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if not d.startswith(('bazel-', '.', 'node_modules'))]
    for f in filenames:
      path = os.path.join(dirpath, f)
      if f.endswith('_test.cc'):
        with open(path, encoding='utf-8', errors='replace') as fh:
          for m in TEST_DEF.finditer(fh.read()):
            tests.add('%s.%s' % m.groups())
      elif f in ('BUILD', 'BUILD.bazel'):
        pkg = os.path.relpath(dirpath, root)
        with open(path, encoding='utf-8') as fh:
          for m in RULE.finditer(fh.read()):
            targets['//%s:%s' % ('' if pkg == '.' else pkg, m.group(2))] = m.group(1)
  return tests, targets


def check(rows, elements, tests, targets):
  errors, owner = [], {}
  known = set(elements)
  for row in rows:
    named = [name for name in row.elements() if name in known]
    if len(named) > 1:
      errors.append('%s: renders %d spec elements (%s): one row per element' % (
          row.label(), len(named), ', '.join('`%s`' % n for n in named)))
    for name in row.elements():
      if name not in known:
        continue  # a row about a sub-case; its own first span is not a spec element
      if name in owner:
        errors.append('%s: element `%s` already has README line %d' % (row.label(), name,
                                                                         owner[name].line))
      owner[name] = row
    if row.state not in STATES:
      errors.append('%s: state "%s" is not one of %s' % (row.label(), row.state,
                                                         ', '.join(sorted(STATES))))
    items = [t.strip() for t in re.split(r'[,;]\s*', row.test) if t.strip()]
    if not items:
      errors.append('%s: empty test cell' % row.label())
    for item in items:
      m = re.fullmatch(r'`([^`]+)`|(—)', item)
      if not m:
        errors.append('%s: test "%s" is not `Suite.Case`, `//pkg:target` or —' % (row.label(), item))
        continue
      name = m.group(1) or DASH
      if name == DASH:
        if row.state == 'done':
          errors.append('%s: a done row must name a test' % row.label())
      elif name.startswith('//'):
        kind = targets.get(name)
        if kind is None:
          errors.append('%s: no target %s in a BUILD file' % (row.label(), name))
        elif not kind.endswith('_test'):
          errors.append('%s: %s is a %s, not a test' % (row.label(), name, kind))
      elif re.fullmatch(r'%s\.[A-Za-z0-9_*]+' % IDENT, name):
        pattern = re.compile(re.escape(name).replace(r'\*', '.*') + '$')
        if not any(pattern.match(t) for t in tests):
          errors.append('%s: no TEST %s in a *_test.cc' % (row.label(), name))
      else:
        errors.append('%s: test "%s" is not `Suite.Case` or `//pkg:target`' % (row.label(), name))
  for name in elements:
    if name not in owner:
      errors.append('spec element `%s` has no row in transport/README.md' % name)
  return errors


def symbols(row):
  """(qualifier or None, name, is a call) for each C++ name the row's C++ cell quotes."""
  out = []
  for span in SPAN.findall(row.cpp):
    m = re.match(r'^((?:%s::)*%s)([({<].*)?$' % (IDENT, IDENT), span.strip(), re.S)
    if not m:
      continue
    token = m.group(1)
    parts = token.split('::')
    name = parts[-1]
    if token in IGNORED or name in IGNORED or re.fullmatch(r'[A-Z0-9_]+', name):
      continue
    if re.match(r'[A-Z][A-Z0-9]*_', name):
      continue  # a C macro or constant (SSL_OP_NO_TLSv1_3)
    if re.fullmatch(r'k[A-Z]\w*', name) and not parts[:-1]:
      continue  # an absl::StatusCode
    if name.endswith(('Test', '_test')):
      continue  # a test named in prose
    out.append(('::'.join(parts[:-1]) or None, name, (m.group(2) or '').startswith('(')))
  return out


def candidates(section):
  for prefix, classes in SECTIONS:
    if section.startswith(prefix):
      return True, classes
  return False, None


HEADERS = ['transport/abort.h', 'transport/authority.h', 'transport/buffer.h',
           'transport/connect.h', 'transport/constants.h', 'transport/errors.h',
           'transport/event.h', 'transport/event_loop.h', 'transport/headers.h',
           'transport/manual_loop.h', 'transport/memory_quota.h', 'transport/memory_socket.h',
           'transport/performance.h', 'transport/server.h', 'transport/session.h',
           'transport/session_timeouts.h', 'transport/settings.h', 'transport/socket.h',
           'transport/socket_address.h', 'transport/stream.h', 'transport/tls.h',
           'transport/tls_socket.h', 'transport/uv_loop.h', 'transport/uv_loop_thread.h',
           'transport/uv_socket.h', 'transport/compat/compat_server.h',
           'transport/compat/compat_stream.h', 'transport/compat/proxy_socket.h',
           'transport/compat/server_request.h', 'transport/compat/server_response.h',
           'transport/http1/connection.h', 'transport/http1/http1_server.h']


def gencc(rows):
  errors, checks, names = [], [], set()
  for row in rows:
    known, classes = candidates(row.section)
    if not known:
      errors.append('%s: section "%s" has no entry in api_table.py SECTIONS' % (row.label(),
                                                                               row.section))
      continue
    found = symbols(row)
    # A member may also belong to a class the row names (`A::b` elsewhere in the row).
    row_classes = [q for q, _, _ in found if q and q not in NAMESPACES]
    where = 'README.md line %d' % row.line
    for qualifier, name, call in found:
      text = '%s names %s%s' % (where, qualifier + '::' if qualifier else '', name)
      text = text.replace('\\', '\\\\').replace('"', '\\"')
      owners = list(dict.fromkeys((classes or []) + row_classes + ALL_CLASSES))
      if qualifier in NAMESPACES:
        checks.append('namespace free_%d { using %s::%s; }  // %s' % (
            len(checks), NAMESPACES[qualifier], name, text))
      elif qualifier:
        names.add(name)
        checks.append('static_assert(has_%s<%s>, "%s");' % (name, qualifier, text))
      elif name[0].isupper() or (classes is None and call):
        checks.append('namespace free_%d { using h2rpc::transport::%s; }  // %s' % (
            len(checks), name, text))
      else:
        names.add(name)
        checks.append('static_assert(%s, "%s");' % (
            ' || '.join('has_%s<%s>' % (name, c) for c in owners), text))
  out = ['// Generated by transport/tools/api_table.py from transport/README.md: do not edit.',
         '// Compiles only if every C++ name the README\'s tables quote exists. has_X<T> is the',
         '// ambiguity detector: D<T> derives from T and from a struct with a member X, so',
         '// &D<T>::X is ambiguous (not a valid expression) exactly when T has a member X.']
  out += ['#include "%s"' % h for h in HEADERS]
  out += ['', 'namespace h2rpc::transport::api_table_check {', '',
          '#define H2RPC_HAS_MEMBER(X)                                              \\',
          '  struct Fallback_##X { int X; };                                        \\',
          '  template <class T> struct Derived_##X : T, Fallback_##X {};            \\',
          '  template <class T> constexpr bool has_##X = !requires { &Derived_##X<T>::X; };', '']
  out += ['H2RPC_HAS_MEMBER(%s)' % n for n in sorted(names)]
  out += [''] + checks + ['', '}  // namespace h2rpc::transport::api_table_check', '',
                          'int main() { return 0; }', '']
  return errors, '\n'.join(out)


def main(argv):
  if len(argv) == 5 and argv[1] == 'check':
    with open(argv[2], encoding='utf-8') as f:
      rows, errors = parse_readme(f.read())
    with open(argv[3], encoding='utf-8') as f:
      elements = [l.rstrip('\n') for l in f if l.strip()]
    tests, targets = collect_tests(argv[4])
    errors += check(rows, elements, tests, targets)
    for e in errors:
      print(e)
    print('%d rows, %d spec elements, %d tests known: %s' % (
        len(rows), len(elements), len(tests), 'FAIL' if errors else 'ok'))
    return 1 if errors else 0
  if len(argv) == 4 and argv[1] == 'gencc':
    with open(argv[2], encoding='utf-8') as f:
      rows, errors = parse_readme(f.read())
    more, text = gencc(rows)
    errors += more
    for e in errors:
      print(e, file=sys.stderr)
    if errors:
      return 1
    with open(argv[3], 'w', encoding='utf-8') as f:
      f.write(text)
    return 0
  print(__doc__, file=sys.stderr)
  return 2


if __name__ == '__main__':
  sys.exit(main(sys.argv))
