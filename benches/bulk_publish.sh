#!/usr/bin/env bash
# The SMART Scheduling Links bench (issue 19), on the clinic of the booking benchmark
# (examples/bench_seed: 2 centers, 50 doctors on a 15-minute grid, 08:00-20:00 six days a week
# for 90 days, 20,000 booked appointments): publishes every role's slots, starts a release
# `rendez serve`, then reads GET /fhir/$bulk-publish and every NDJSON file it names, as a client
# would, three times in a row. Reports the time of each whole read (goal: under 5 s), the lines
# and bytes per type, and the server's peak RSS (VmHWM) before and after the reads: the slot
# files stream a page at a time, so the peak should not grow with the size of the feed.
#
# Usage: benches/bulk_publish.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
port="${BENCH_PORT:-18193}"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done

cargo build --release --quiet --features mysql --bin rendez --example bench_seed
work="$(mktemp -d)"
# Only the pid this script started (an empty one would be `kill 0`: the whole group).
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_bulkbench; CREATE DATABASE rendez_bulkbench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_bulkbench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"
target/release/rendez client add bench --roles booking --password bench-password-123 >/dev/null
target/release/rendez slots regenerate --all >/dev/null
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_BOOKING_LEAD=0 \
  RENDEZ_BOOKING_LINK_TEMPLATE='https://book.example.org/{center}?slot={slot}' \
  target/release/rendez serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
hwm() { awk '/VmHWM/ {print $2 " " $3}' "/proc/$server/status"; }
rss() { awk '/VmRSS/ {print $2 " " $3}' "/proc/$server/status"; }
get() { curl -sf -u bench:bench-password-123 "$1"; }
now_ms() { date +%s%3N; }

echo "server peak RSS before: $(hwm) (RSS $(rss))"
for run in 1 2 3; do
  began=$(now_ms)
  get "http://127.0.0.1:$port/fhir/\$bulk-publish" >"$work/manifest.json"
  : >"$work/counts"
  while IFS=$'\t' read -r kind file; do
    get "$file" | wc -lc | awk -v k="$kind" '{print k, $1, $2}' >>"$work/counts"
  done < <(jq -r '.output[] | [.type, .url] | @tsv' "$work/manifest.json")
  took=$(( $(now_ms) - began ))
  summary="$(awk '{l[$1]+=$2; b[$1]+=$3} END {for (k in l) printf "%s %d lines %.1f MB; ", k, l[k], b[k]/1e6}' "$work/counts")"
  echo "run $run: manifest + $(jq '.output | length' "$work/manifest.json") files in ${took} ms: $summary"
done
echo "server peak RSS after: $(hwm) (RSS $(rss))"
