#!/usr/bin/env python3
"""Lists the elements of the node:http2 API spec, one per line.

Usage: spec_elements.py SPEC.md > transport/testdata/node_http2_api_elements.txt

An element is a heading of the spec (its anchor names it when the heading has no code span) or
one option of createServer/createSecureServer/connect/request/pushStream/respond*. The names are
what transport/README.md's tables start their Node column with (api_table.py checks it):
  `http2session.close([callback])`        a heading's code span
  `Http2Session 'close'`                  an event, with the class whose section holds it
  `Http2SecureServer server.close([callback])`  a code span already used by an earlier class
  `#headers-object`                       a heading without a code span: its anchor
  `http2.connect options.protocol`        an option
The spec is outside the repository (Bazel sandboxes cannot read it): commit the list.
"""
import re
import sys

HEADING = re.compile(r'^(#{2,5}) (.*?) \{#([^}]+)\}\s*$')
# An option line: `- \`name\` [<type>]…`, sometimes two names (`a` [..] et `b` [..]); `- ... :`
# stands for the net/tls options passed through.
OPTION = re.compile(r'(?:^\s{4}- | et | and )`([A-Za-z0-9]+)`\s*\[')
OTHER_OPTIONS = re.compile(r'^\s{4}- \.\.\.\s?:')
# Sections whose '- options' list gives one element per option.
OPTION_OWNERS = ('http2.createServer', 'http2.createSecureServer', 'http2.connect',
                 'clienthttp2session.request', 'http2stream.pushStream', 'http2stream.respond',
                 'http2stream.respondWithFD', 'http2stream.respondWithFile')
# Headings that are the document's frame, not API elements.
SKIP = {'http/2', 'core-api', 'server-side-example', 'client-side-example', 'compatibility-api',
        'creation', 'destruction'}


def elements(lines):
  out, seen = [], set()
  klass, owner, in_options = None, None, False
  for line in lines:
    m = HEADING.match(line)
    if m:
      level, title, anchor = len(m.group(1)), m.group(2), m.group(3)
      owner, in_options = None, False
      cm = re.search(r'(?:Classe?|Class)\s*:\s*`([^`]+)`', title)
      if cm:
        klass = cm.group(1).replace('http2.', '')
        title = title.replace('http2.', '')
      elif level <= 2:
        klass = None
      if anchor in SKIP:
        continue
      code = re.search(r'`([^`]+)`', title)
      whole = re.fullmatch(r'`([^`]+)`', title)
      if re.match(r'^(Événement|Event)\s*:', title) and code:
        name = '%s %s' % (klass, code.group(1))
      elif cm:
        name = 'class ' + klass
      elif whole:
        name = code.group(1)
        if name in seen:
          name = '%s %s' % (klass, name)
        base = name.split('(')[0]
        if base in OPTION_OWNERS or base.split(' ')[-1] in OPTION_OWNERS:
          owner = base.split(' ')[-1]
      else:
        name = '#' + anchor
      if name in seen:
        raise SystemExit('duplicate element name: ' + name)
      seen.add(name)
      out.append(name)
      continue
    if owner:
      if re.match(r'^-\s+`options`', line):
        in_options = True
        continue
      if re.match(r'^-\s', line):
        in_options = False
      if not in_options:
        continue
      names = OPTION.findall(line) if re.match(r'^\s{4}- ', line) else []
      if OTHER_OPTIONS.match(line):
        names = ['...']
      for option in names:
        name = '%s options.%s' % (owner, option)
        if name not in seen:
          seen.add(name)
          out.append(name)
  return out


def main(argv):
  if len(argv) != 2:
    raise SystemExit('usage: spec_elements.py SPEC.md')
  with open(argv[1], encoding='utf-8') as f:
    for name in elements(f.read().splitlines()):
      print(name)


if __name__ == '__main__':
  main(sys.argv)
