#!/usr/bin/env bash
# The OpenVPMS booking API benchmark, on the clinic of the booking benchmark (benches/booking.sh:
# 2 centers, 50 doctors, 10 activities, 90 days of availability, 20,000 booked appointments):
# starts a release `rendez serve` and drives it over HTTP with wrk at 64 connections:
# GET /healthz, GET /ws/booking/v2/schedules/{id}/free?slots=true over 7 days (one doctor's
# schedule, the one the booking bench searches), and POST /ws/booking/v2/bookings (every request
# a different free slot, a new customer each). Prints requests/s and p50/p99 latency of each, in
# one run, the free/busy rate as a share of the same run's /healthz rate, and the bookings
# committed per second (201 answers).
#
# Usage: benches/openvpms.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs wrk (apt-get install wrk), curl and jq. Takes about two minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
threads=2   # wrk threads; the booking script interleaves their counters
port="${BENCH_PORT:-18182}"
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done

cargo build --release --quiet --features mysql --bin rendez --example bench_seed
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_ovbench; CREATE DATABASE rendez_ovbench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_ovbench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"
target/release/rendez client add bench --roles booking --password bench-password-123 >/dev/null
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_BOOKING_LEAD=0 RENDEZ_DB_POOL_SIZE=16 target/release/rendez serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port/ws/booking/v2"
api() { curl -sf -u bench:bench-password-123 "$base/$1"; }
auth="Basic $(printf 'bench:bench-password-123' | base64)"

# The ids, as any client finds them: locations, their schedules, the 15-minute activity.
declare -A center_of
mad="$(api locations | jq -r '.[] | select(.name == "Bench MAD") | .id')"
syd="$(api locations | jq -r '.[] | select(.name == "Bench SYD") | .id')"
schedules=()
for location in "$mad" "$syd"; do
  while read -r id; do
    schedules+=("$id")
    center_of[$id]="$location"
  done < <(api "locations/$location/schedules" | jq -r '.[].id')
done
[ "${#schedules[@]}" -eq 50 ] || { echo "expected 50 schedules, found ${#schedules[@]}" >&2; exit 1; }
dr07="$(api "locations/$syd/schedules" | jq -r '.[] | select(.name == "Doctor 7") | .id')"
act0="$(api "schedules/$dr07/appointmentTypes" | jq -r '.[] | select(.name == "Activity 0") | .id')"

# 7 days from tomorrow's midnight (UTC; the answer is in the doctor's own zone).
from="$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)"
to="$(date -u -d '8 days' +%Y-%m-%dT00:00:00Z)"
free_path="/ws/booking/v2/schedules/$dr07/free?from=$from&to=$to&slots=true"
slots="$(api "schedules/$dr07/free?from=$from&to=$to&slots=true" | jq length)"

# Booking days: the next 40 working days (Monday to Saturday, as the bench clinic opens), each
# with the offset of each center on that day.
days_lua=""
n=0
for d in $(seq 1 60); do
  [ "$(date -u -d "+$d days" +%u)" = 7 ] && continue
  date="$(date -u -d "+$d days" +%Y-%m-%d)"
  mo="$(TZ=Europe/Madrid date -d "$date 12:00" +%:z)"
  so="$(TZ=Australia/Sydney date -d "$date 12:00" +%:z)"
  days_lua+="{\"$date\",\"$mo\",\"$so\"},"
  n=$((n + 1))
  [ "$n" = 40 ] && break
done
schedules_lua=""
for id in "${schedules[@]}"; do
  if [ "${center_of[$id]}" = "$mad" ]; then schedules_lua+="{$id,$mad,2},"; else schedules_lua+="{$id,$syd,3},"; fi
done

cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "$auth"
LUA

cat >"$work/book.lua" <<LUA
-- Every request books another afternoon slot: schedule, day and time from a per-thread counter,
-- the threads' counters interleaved so that together they walk every slot once.
local days = {$days_lua}
local schedules = {$schedules_lua}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
function init(args)
  counter = 0
  booked = 0
  refused = 0
  failed = 0
end
function request()
  counter = counter + 1
  local n = (counter - 1) * $threads + (thread_id - 1)
  local s = schedules[(n % #schedules) + 1]
  local slot = math.floor(n / #schedules) % 24   -- 24 quarter hours from 14:00 to 20:00
  local d = days[(math.floor(n / (#schedules * 24)) % #days) + 1]
  local minutes = 14 * 60 + slot * 15
  local start = string.format("%sT%02d:%02d:00.000%s", d[1], math.floor(minutes / 60), minutes % 60, d[s[3]])
  local stop = string.format("%sT%02d:%02d:00.000%s", d[1], math.floor((minutes + 15) / 60), (minutes + 15) % 60, d[s[3]])
  local body = '{"location":' .. s[2] .. ',"schedule":' .. s[1] .. ',"appointmentType":$act0'
    .. ',"start":"' .. start .. '","end":"' .. stop .. '","firstName":"Bench","lastName":"T' .. thread_id .. 'N' .. counter
    .. '","email":"bench-' .. thread_id .. '-' .. counter .. '@example.org"}'
  return wrk.format("POST", "/ws/booking/v2/bookings",
    {["Content-Type"] = "application/json", ["Authorization"] = "$auth"}, body)
end
function response(status, headers, body)
  if status ~= 201 and not shown then
    shown = true
    io.write("FIRST REFUSAL " .. status .. ": " .. body .. "\n")
  end
  if status == 201 then booked = booked + 1 elseif status == 400 then refused = refused + 1 else failed = failed + 1 end
end
function done(summary, latency, requests)
  local ok, no, bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("booked")
    no = no + thread:get("refused")
    bad = bad + thread:get("failed")
  end
  io.write(string.format("BOOKED %d %d %d %.3f\n", ok, no, bad, summary.duration / 1e6))
end
LUA

run() {
  local label="$1"; shift
  local out
  out="$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$@")"
  local rps p50 p99 errors
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")"
  printf '%-44s %12s req/s   p50 %9s   p99 %9s   errors %s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/rps.$label"
  echo "$out" >"$work/out.$label"
}

echo "backend: $backend, $connections connections, ${duration}s each; free/busy: schedule $dr07 (Doctor 7), $slots free slots in 7 days"
# Two unmeasured seconds first: the first burst pays the password check (Argon2id) and the first
# use of each pooled connection, which is not the steady state measured.
wrk -t"$threads" -c"$connections" -d2s -s "$work/get.lua" "http://127.0.0.1:$port$free_path" >/dev/null
run healthz "http://127.0.0.1:$port/healthz"
run free-slots-7-days -s "$work/get.lua" "http://127.0.0.1:$port$free_path"
run post-bookings -s "$work/book.lua" "http://127.0.0.1:$port/ws/booking/v2/bookings"
read -r ok refused failed seconds < <(awk '/^BOOKED/ {print $2, $3, $4, $5}' "$work/out.post-bookings")
awk -v ok="$ok" -v no="$refused" -v bad="$failed" -v s="$seconds" 'BEGIN { printf "committed bookings: %d in %.1fs = %.0f/s (%d refused with 400, %d other answers)\n", ok, s, ok / s, no, bad }'
grep -m2 '^FIRST REFUSAL' "$work/out.post-bookings" || true
awk -v s="$(cat "$work/rps.free-slots-7-days")" -v h="$(cat "$work/rps.healthz")" 'BEGIN { printf "%-44s %5.1f%% of the /healthz rate\n", "free-slots-7-days", 100 * s / h }'
