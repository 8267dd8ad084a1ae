#!/bin/sh
# The image's entrypoint (and its health check): `fulfil serve` reachable from outside the
# container (0.0.0.0) only when TLS and an auth file are configured; otherwise on the container's
# loopback, where only `docker exec` reaches it, and the log says what to add. `health` asks the
# server the standard gRPC health question at the address `serve` uses (through its TLS when it
# has it). Other commands run as given.
set -eu
if [ -n "${FULFIL_TLS_CERT:-}" ] && [ -n "${FULFIL_TLS_KEY:-}" ] && [ -n "${FULFIL_AUTH_FILE:-}" ]; then
  exposed=1
  export FULFIL_LISTEN="${FULFIL_LISTEN:-0.0.0.0:50051}"
  export FULFIL_METRICS_LISTEN="${FULFIL_METRICS_LISTEN:-0.0.0.0:9000}"
  export FULFIL_HEALTH_SERVER="${FULFIL_HEALTH_SERVER:-https://127.0.0.1:${FULFIL_LISTEN##*:}}"
else
  exposed=0
  export FULFIL_LISTEN="${FULFIL_LISTEN:-127.0.0.1:50051}"
  export FULFIL_METRICS_LISTEN="${FULFIL_METRICS_LISTEN:-127.0.0.1:9000}"
  export FULFIL_HEALTH_SERVER="${FULFIL_HEALTH_SERVER:-http://127.0.0.1:${FULFIL_LISTEN##*:}}"
fi
case "${1:-serve}" in
  serve)
    if [ "$exposed" = 0 ]; then
      echo "fulfil: no FULFIL_TLS_CERT/FULFIL_TLS_KEY/FULFIL_AUTH_FILE: listening on the container's" \
           "loopback only (see SECURITY.md to expose it)" >&2
    fi
    [ "$#" -gt 0 ] && shift
    exec fulfil serve "$@"
    ;;
  health)
    shift
    exec fulfil health --addr "$FULFIL_HEALTH_SERVER" "$@"
    ;;
esac
exec fulfil "$@"
