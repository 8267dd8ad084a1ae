#!/bin/sh
# The image's entrypoint: `fulfil serve` reachable from outside the container (0.0.0.0) only when
# TLS and an auth file are configured; otherwise on the container's loopback, where only
# `docker exec` reaches it, and the log says what to add. Other commands run as given.
set -eu
if [ "${1:-serve}" = "serve" ]; then
  if [ -n "${FULFIL_TLS_CERT:-}" ] && [ -n "${FULFIL_TLS_KEY:-}" ] && [ -n "${FULFIL_AUTH_FILE:-}" ]; then
    export FULFIL_LISTEN="${FULFIL_LISTEN:-0.0.0.0:50051}"
    export FULFIL_METRICS_LISTEN="${FULFIL_METRICS_LISTEN:-0.0.0.0:9000}"
    # The health check reaches the server through its own TLS.
    export FULFIL_HEALTH_SERVER="${FULFIL_HEALTH_SERVER:-https://127.0.0.1:50051}"
  else
    export FULFIL_LISTEN="${FULFIL_LISTEN:-127.0.0.1:50051}"
    export FULFIL_METRICS_LISTEN="${FULFIL_METRICS_LISTEN:-127.0.0.1:9000}"
    echo "fulfil: no FULFIL_TLS_CERT/FULFIL_TLS_KEY/FULFIL_AUTH_FILE: listening on the container's" \
         "loopback only (see SECURITY.md to expose it)" >&2
  fi
  [ "$#" -gt 0 ] && shift
  exec fulfil serve "$@"
fi
exec fulfil "$@"
