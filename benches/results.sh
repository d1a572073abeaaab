#!/usr/bin/env bash
# The results benchmark: starts a release `rendez serve` with a results key, pushes one 64 KiB
# test result, and drives the server with wrk at 64 connections: GET /healthz,
# getTestResultContent of that result (every read decrypted and recorded), and the patient
# page download (POST /results with the right code and ID number: every attempt judged and
# recorded in one write transaction). The answers are checked once before they are measured.
# Prints requests/s, p50/p99 latency, non-2xx answers, and each rate as a fraction of /healthz
# in the same run.
#
# Usage: benches/results.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs wrk (apt-get install wrk). Takes under a minute after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
port="${BENCH_PORT:-18481}"
size="${BENCH_RESULT_BYTES:-65536}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet --features mysql --bin rendez
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_results_bench; CREATE DATABASE rendez_results_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_results_bench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
RENDEZ_RESULTS_KEY="$(target/release/rendez results new-key bench)"
export RENDEZ_RESULTS_KEY
target/release/rendez client add bench --roles results --password bench-password-123 >/dev/null
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_DB_POOL_SIZE="${BENCH_POOL_SIZE:-16}" target/release/rendez serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

auth="Basic $(printf 'bench:bench-password-123' | base64)"
head -c "$size" /dev/urandom >"$work/result.pdf"
{
  printf '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:updateTestResults><TEST_RESULT>'
  printf '<DOWNLOAD_LID>BENCH-1</DOWNLOAD_LID><DOWNLOAD_CODE>BENCHK7QX2M9P4T</DOWNLOAD_CODE><USER_ID_NUMBER>12345678Z</USER_ID_NUMBER>'
  printf '<USER_LID>BENCH-P1</USER_LID><DOWNLOAD_TYPE>pdf</DOWNLOAD_TYPE><DOWNLOAD_FILENAME>bench.pdf</DOWNLOAD_FILENAME><DOWNLOAD_CONTENT>'
  base64 -w0 "$work/result.pdf"
  printf '</DOWNLOAD_CONTENT></TEST_RESULT></r:updateTestResults></s:Body></s:Envelope>'
} >"$work/push.xml"
curl -sf -H 'Content-Type: text/xml; charset=utf-8' -H "Authorization: $auth" --data-binary "@$work/push.xml" \
  "http://127.0.0.1:$port/soap" | grep -q '<RESULT>OK</RESULT>' || { echo "the result was not stored" >&2; cat "$work/serve.log" >&2; exit 1; }
# The download is checked once, byte for byte, before it is measured.
curl -sf --data 'code=BENCHK7QX2M9P4T&id_number=12345678Z' -o "$work/downloaded" "http://127.0.0.1:$port/results"
cmp -s "$work/result.pdf" "$work/downloaded" || { echo "the downloaded file differs" >&2; exit 1; }
curl -sf -H 'Content-Type: text/xml; charset=utf-8' -H "Authorization: $auth" \
  --data '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:getTestResultContent><DOWNLOAD_LID>BENCH-1</DOWNLOAD_LID></r:getTestResultContent></s:Body></s:Envelope>' \
  "http://127.0.0.1:$port/soap" | sed -n 's:.*<DOWNLOAD_CONTENT>\(.*\)</DOWNLOAD_CONTENT>.*:\1:p' | base64 -d | cmp -s - "$work/result.pdf" \
  || { echo "getTestResultContent does not return the file" >&2; exit 1; }

cat >"$work/content.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$auth"
wrk.body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:getTestResultContent><DOWNLOAD_LID>BENCH-1</DOWNLOAD_LID></r:getTestResultContent></s:Body></s:Envelope>'
LUA
cat >"$work/page.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "code=BENCHK7QX2M9P4T&id_number=12345678Z"
LUA

run() {
  local label="$1"; shift
  local out
  out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")"
  local rps p50 p99 errors
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  # A SOAP fault is a 500 and a refused download a 403: wrk counts them itself (a Lua response
  # hook would copy every body into Lua and slow wrk down on the same cores).
  errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")"
  printf '%-36s %12s req/s   p50 %9s   p99 %9s   errors %s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/rps.$label"
}

echo "backend: $backend, $connections connections, ${duration}s each, result of $size bytes"
run healthz "http://127.0.0.1:$port/healthz"
run getTestResultContent -s "$work/content.lua" "http://127.0.0.1:$port/soap"
run patient-page-download -s "$work/page.lua" "http://127.0.0.1:$port/results"
health="$(cat "$work/rps.healthz")"
for label in getTestResultContent patient-page-download; do
  awk -v s="$(cat "$work/rps.$label")" -v h="$health" -v l="$label" -v b="$size" \
    'BEGIN { printf "%-36s %5.1f%% of the /healthz rate, %.0f MiB/s of file content\n", l, 100 * s / h, s * b / 1048576 }'
done
