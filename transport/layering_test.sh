#!/bin/bash
# Fails if anything in transport/ depends, even indirectly, on rpc/ or proto/. Visibility already
# stops direct deps on rpc/; this also catches a path through an alias or a public wrapper.
deps="$1"
[ -s "$deps" ] || { echo "no dependency list at '$deps'"; exit 1; }
bad=$(grep -E '^//(rpc|proto)([/:]|$)' "$deps")
if [ -n "$bad" ]; then
  echo "transport/ must not depend on rpc/ or proto/, but depends on:"; echo "$bad"; exit 1
fi
echo "transport/ depends on $(grep -c '^//transport' "$deps") transport targets and nothing in rpc/ or proto/"
