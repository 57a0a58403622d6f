#!/bin/sh
# Entry point of the pc3 Prometheus container (docker-compose.pc3.yml, profile
# monitoreo): fills every ${NAME} of deploy/prometheus.yml from the environment
# (Prometheus itself does not expand variables in scrape targets), then runs
# Prometheus on the result with the arguments given. A variable that is not set
# stops here with its name, not later as an unreachable target.
#
# PROMETHEUS_BIN, PROMETHEUS_CONFIG and PROMETHEUS_DATA default to the official
# image's paths; the test suite points them at Debian's binary and a temp dir.
set -eu
bin="${PROMETHEUS_BIN:-/bin/prometheus}"
src="${PROMETHEUS_CONFIG:-/etc/biblioteca/prometheus.yml}"
data="${PROMETHEUS_DATA:-/prometheus}"
out="$data/prometheus.yml"

script=''
for name in $(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' "$src" | tr -d '${}' | sort -u); do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "prometheus.sh: $name is not set (see docker-compose.pc3.yml and deploy/.env.example)" >&2
    exit 1
  fi
  case "$value" in
    *[!A-Za-z0-9.:_-]*) echo "prometheus.sh: $name='$value' is not an address:port" >&2; exit 1 ;;
  esac
  script="$script s|\${$name}|$value|g;"
done
mkdir -p "$data"
sed -e "$script" "$src" > "$out"
exec "$bin" --config.file="$out" --storage.tsdb.path="$data" "$@"
