#!/usr/bin/env bash
# Starts the embedded default: VictoriaMetrics single-node on 127.0.0.1:8428
# (temporary data directory, two demo tenants), the demo identity provider on
# 127.0.0.1:9000, and Envoy with tenantgate on 127.0.0.1:8080 (admin 9901).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
DATA_DIR=$(mktemp -d -t tenantgate-vm.XXXXXX)
PIDS=()

stop_all() {
    trap - INT TERM EXIT
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DATA_DIR"
    echo "stopped"
}
trap stop_all INT TERM EXIT

wait_for() { # url, name
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$2 did not start ($1)" >&2
    exit 1
}

for port in 8080 8428 9000 9901; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "port $port on 127.0.0.1 is in use; stop what runs there first" >&2
        exit 1
    fi
done

victoria-metrics -httpListenAddr=127.0.0.1:8428 -storageDataPath="$DATA_DIR" \
    -search.latencyOffset=1s -loggerLevel=WARN &
PIDS+=($!)
wait_for http://127.0.0.1:8428/health "VictoriaMetrics"
# Two tenants' series, one minute old so that instant queries see them.
ts=$(( ($(date +%s) - 60) * 1000 ))
curl -fsS --data-binary @- http://127.0.0.1:8428/api/v1/import/prometheus <<DATA
demo_requests_total{tenant="team-a",job="api"} 10 $ts
demo_requests_total{tenant="team-b",job="api"} 20 $ts
demo_up{tenant="team-a"} 1 $ts
demo_up{tenant="team-b"} 1 $ts
DATA

"$VENV/bin/python" tools/demo_idp.py --listen 127.0.0.1:9000 &
PIDS+=($!)
wait_for http://127.0.0.1:9000/.well-known/openid-configuration "demo identity provider"

if command -v func-e >/dev/null; then
    func-e run -c envoy.yaml --log-level warn --component-log-level wasm:info &
else
    "$VENV/bin/envoy" -c envoy.yaml --log-level warn --component-log-level wasm:info &
fi
PIDS+=($!)
wait_for http://127.0.0.1:9901/ready "Envoy"

cat <<TEXT

tenantgate is listening on http://127.0.0.1:8080 (VictoriaMetrics behind it on :8428).
Try, in another terminal:
  curl -i 'http://127.0.0.1:8080/api/v1/query?query=demo_requests_total'
  curl -s -H "Authorization: Bearer \$(make -s demo-token)" 'http://127.0.0.1:8080/api/v1/query?query=demo_requests_total'
Ctrl-C stops everything.
TEXT
wait -n
