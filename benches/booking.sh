#!/usr/bin/env bash
# The booking benchmark: seeds a realistic clinic (2 centers, 50 doctors, 10 activities, 90 days
# of availability, 20,000 booked appointments), starts a release `rendez serve`, and drives it
# over HTTP with wrk at 64 connections: GET /healthz, searchAvailabilities (one resource and all
# resources, 20 results, 7 days) and addAppointment (every request a different free slot).
# Prints requests/s and p50/p99 latency of each, in one run; before that, the CPU time of one
# search in memory without HTTP (examples/search_bench), which holds on a busy machine too.
#
# Usage: benches/booking.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs wrk (apt-get install wrk). Takes about two minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
port="${BENCH_PORT:-18181}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet --features mysql --bin rendez --example bench_seed --example search_bench
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_bench; CREATE DATABASE rendez_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_bench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"
target/release/examples/search_bench "$url"
target/release/rendez client add bench --roles booking,admin --password bench-password-123 >/dev/null
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_BOOKING_LEAD=0 RENDEZ_DB_POOL_SIZE=16 target/release/rendez serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

start_day="$(date -u -d tomorrow +%d/%m/%Y)"
auth="Basic $(printf 'bench:bench-password-123' | base64)"

cat >"$work/soap.lua" <<LUA
-- One SOAP body for every request; the operation comes from the environment.
local op = os.getenv("OP")
local inner = os.getenv("INNER")
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$auth"
wrk.body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:' .. op .. '>' .. inner .. '</r:' .. op .. '></s:Body></s:Envelope>'
-- No response hook: a SOAP fault is a 500, which wrk counts itself, and a hook would copy
-- every answer into Lua, on the same two cores as the server.
LUA

cat >"$work/book.lua" <<LUA
-- Every request books another afternoon slot: doctor, day and time from a per-thread counter.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$auth"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
function init(args)
  counter = 0
  booked = 0
  refused = 0
end
function request()
  counter = counter + 1
  local n = counter * 8 + thread_id
  local doctor = n % 50
  local slot = math.floor(n / 50) % 24          -- 24 quarter hours from 14:00 to 20:00
  local day = 1 + math.floor(n / 1200)          -- then the next day
  local date = os.date("!%d/%m/%Y", os.time() + day * 86400)
  local minutes = 14 * 60 + slot * 15
  local time = string.format("%02d:%02d", math.floor(minutes / 60), minutes % 60)
  local body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:addAppointment>'
    .. '<ACTIVITY_LID>ACT0</ACTIVITY_LID><RESOURCE_LID>DR' .. string.format("%02d", doctor) .. '</RESOURCE_LID>'
    .. '<APP_DATE>' .. date .. '</APP_DATE><APP_START_TIME>' .. time .. '</APP_START_TIME>'
    .. '<USER_LID>BENCH-' .. thread_id .. '-' .. counter .. '</USER_LID><USER_FIRST_NAME>Bench</USER_FIRST_NAME>'
    .. '</r:addAppointment></s:Body></s:Envelope>'
  return wrk.format(nil, "/soap", nil, body)
end
function response(status, headers, body)
  if string.find(body, "<ADD_RESULT>OK</ADD_RESULT>", 1, true) then booked = booked + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local ok, no = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("booked")
    no = no + thread:get("refused")
  end
  io.write(string.format("BOOKED %d %d %.3f\n", ok, no, summary.duration / 1e6))
end
LUA

run() {
  local label="$1"; shift
  local out
  out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")"
  local rps p50 p99 errors
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")"
  printf '%-44s %12s req/s   p50 %9s   p99 %9s   errors %s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/rps.$label"
  echo "$out" >"$work/out.$label"
}

echo "backend: $backend, $connections connections, ${duration}s each"
# Two unmeasured seconds of searches first: the first burst after start pays the password check
# (Argon2id) and the first use of each pooled connection, which is not the steady state measured.
OP=searchAvailabilities INNER="<ACTIVITY_LID>ACT2</ACTIVITY_LID><AVA_RESULTS_NUMBER>20</AVA_RESULTS_NUMBER>" \
  wrk -t2 -c"$connections" -d2s -s "$work/soap.lua" "http://127.0.0.1:$port/soap" >/dev/null
run healthz "http://127.0.0.1:$port/healthz"
OP=searchAvailabilities INNER="<ACTIVITY_LID>ACT2</ACTIVITY_LID><RESOURCE_LID>DR07</RESOURCE_LID><AVA_START_DAY>$start_day</AVA_START_DAY><AVA_RESULTS_NUMBER>20</AVA_RESULTS_NUMBER>" \
  run search-one-resource -s "$work/soap.lua" "http://127.0.0.1:$port/soap"
OP=searchAvailabilities INNER="<ACTIVITY_LID>ACT2</ACTIVITY_LID><AVA_START_DAY>$start_day</AVA_START_DAY><AVA_RESULTS_NUMBER>20</AVA_RESULTS_NUMBER>" \
  run search-all-resources -s "$work/soap.lua" "http://127.0.0.1:$port/soap"
run addAppointment -s "$work/book.lua" "http://127.0.0.1:$port/soap"
read -r ok refused seconds < <(awk '/^BOOKED/ {print $2, $3, $4}' "$work/out.addAppointment")
awk -v ok="$ok" -v no="$refused" -v s="$seconds" 'BEGIN { printf "committed bookings: %d in %.1fs = %.0f/s (%d refused: taken or outside availability)\n", ok, s, ok / s, no }'
health="$(cat "$work/rps.healthz")"
for label in search-one-resource search-all-resources; do
  awk -v s="$(cat "$work/rps.$label")" -v h="$health" -v l="$label" 'BEGIN { printf "%-44s %5.1f%% of the /healthz rate\n", l, 100 * s / h }'
done
