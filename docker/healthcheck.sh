#!/bin/bash
# Container health check for socketshark (Docker HEALTHCHECK): GET /healthz on
# the admin port, else on the WebSocket port, over bash's /dev/tcp, so that
# the image needs no curl. Exit 0 when one answers 200.
# The ports follow the SOCKETSHARK_* overrides when they are set; a port
# changed only in the mounted config file is not seen: override HEALTHCHECK then.
set -u

probe() {
  local port=$1 status
  exec 3<>"/dev/tcp/127.0.0.1/${port}" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 3 status <&3 || return 1
  exec 3<&- 3>&-
  [[ "${status}" == HTTP/1.?" 200 "* ]]
}

for port in "${SOCKETSHARK_METRICS__PROMETHEUS__PORT:-9090}" "${SOCKETSHARK_WS_PORT:-9000}"; do
  if (probe "${port}") 2>/dev/null; then exit 0; fi
done
echo "socketshark: /healthz did not answer 200" >&2
exit 1
