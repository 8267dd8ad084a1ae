#!/usr/bin/env bash
# The gRPC API's checks with buf (https://buf.build), as CI runs them: lint (buf.yaml lists the
# exceptions kept on purpose) and no breaking change against the last release's descriptors
# (proto/releases/). buf comes from the npm registry (@bufbuild/buf), installed once into
# target/buf.
#
#   scripts/proto-check.sh
#
# At a release: buf build -o proto/releases/vX.Y.Z.binpb, and point AGAINST at it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION=1.75.0
AGAINST=proto/releases/v0.1.0.binpb
dir=target/buf
buf="$dir/node_modules/.bin/buf"
if [ ! -x "$buf" ] || [ "$("$buf" --version)" != "$BUF_VERSION" ]; then
  command -v npm >/dev/null || { echo "proto-check: npm is needed to install buf" >&2; exit 1; }
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --silent "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi
"$buf" lint
"$buf" breaking --against "$AGAINST"
echo "proto-check: buf $BUF_VERSION lint and breaking (against $AGAINST) passed"
