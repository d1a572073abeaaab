#!/usr/bin/env bash
# The FHIR Slot benchmark (issue 16), on the clinic of the booking benchmark (examples/bench_seed:
# 2 centers, 50 doctors on a 15-minute grid, 08:00-20:00 six days a week for 90 days, 20,000
# booked appointments): publishes every role's slots (`rendez slots regenerate --all`), starts a
# release `rendez serve` (with its slot worker) and measures, in one run:
#   1. GET /healthz and GET /fhir/Slot?schedule=..&start=ge..&start=lt.. over 7 days (one
#      doctor's schedule, every slot of the week in one page: _count=500) with wrk at 64
#      connections: requests/s, p50, p99, and the Slot rate as a share of /healthz (goal: 25 %,
#      p99 under 10 ms);
#   2. while wrk books through the OpenVPMS API (POST bookings, every request another slot, as
#      benches/openvpms.sh), how long a booking takes to show in Slot search: a probe books a
#      free slot (days the load does not book) and reads the slot until it is busy, 40 times;
#      and how long an availability change (a CSV import from another process moving the
#      doctor's day to start at 07:00, then back) takes to show as a new slot or its
#      retirement, 10 times. p50 and p99 of each (goal: within 1 s at p99).
#
# Usage: benches/fhir_slots.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs wrk, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
port="${BENCH_PORT:-18183}"
for tool in wrk curl jq bc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done

cargo build --release --quiet --features mysql --bin rendez --example bench_seed
work="$(mktemp -d)"
# Only the pids this script started (an empty one would be `kill 0`: the whole group).
cleanup() {
  for pid in ${load:-} ${server:-}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_fhirbench; CREATE DATABASE rendez_fhirbench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_fhirbench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"
target/release/rendez client add bench --roles booking --password bench-password-123 >/dev/null
target/release/rendez slots regenerate --all >/dev/null
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_BOOKING_LEAD=0 RENDEZ_DB_POOL_SIZE=16 target/release/rendez serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

root="http://127.0.0.1:$port"
base="$root/ws/booking/v2"
api() { curl -sf -u bench:bench-password-123 "$base/$1"; }
fhir() { curl -sf -u bench:bench-password-123 "$root/fhir/$1"; }
auth="Basic $(printf 'bench:bench-password-123' | base64)"
now_ms() { date +%s%3N; }

# Ids as any client finds them (the OpenVPMS schedule id is the FHIR Schedule id).
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
dr07="$(api "locations/$syd/schedules" | jq -r '.[] | select(.name == "Doctor 7") | .id')"
act0="$(api "schedules/$dr07/appointmentTypes" | jq -r '.[] | select(.name == "Activity 0") | .id')"

from="$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)"
to="$(date -u -d '8 days' +%Y-%m-%dT00:00:00Z)"
slot_path="/fhir/Slot?schedule=Schedule/$dr07&start=ge$from&start=lt$to&_count=500"
week="$(fhir "Slot?schedule=Schedule/$dr07&start=ge$from&start=lt$to&_count=0" | jq .total)"

cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "$auth"
LUA

# The booking load of benches/openvpms.sh: afternoons of the next 40 working days.
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
cat >"$work/book.lua" <<LUA
local days = {$days_lua}
local schedules = {$schedules_lua}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
function init(args) counter = 0 end
function request()
  counter = counter + 1
  local n = counter * 8 + thread_id
  local s = schedules[(n % #schedules) + 1]
  local slot = math.floor(n / #schedules) % 24
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
LUA

run() {
  local label="$1"; shift
  local out rps p50 p99 errors
  out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")"
  printf '%-36s %12s req/s   p50 %9s   p99 %9s   errors %s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/rps.$label"
}

# p50 and p99 (nearest rank) of the numbers in a file, one a line.
percentiles() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1];
    printf "n %d   p50 %d ms   p99 %d ms   max %d ms\n", NR, p50, p99, v[NR] }'
}

echo "backend: $backend, $connections connections, ${duration}s each; Slot: schedule $dr07 (Doctor 7), $week slots in 7 days"
wrk -t2 -c"$connections" -d2s -s "$work/get.lua" "$root$slot_path" >/dev/null
run healthz "$root/healthz"
run slot-search-7-days -s "$work/get.lua" "$root$slot_path"
awk -v s="$(cat "$work/rps.slot-search-7-days")" -v h="$(cat "$work/rps.healthz")" \
  'BEGIN { printf "%-36s %5.1f%% of the /healthz rate\n", "slot-search-7-days", 100 * s / h }'

# 2. Freshness while the load books.
probe_from="$(date -u -d '+70 days' +%Y-%m-%dT00:00:00Z)"
fhir "Slot?schedule=Schedule/$dr07&status=free&start=ge$probe_from&_count=40" \
  | jq -r '.entry[].resource | "\(.id) \(.start) \(.end)"' >"$work/probes"
wrk -t2 -c"$connections" -d"$((duration * 3))s" -s "$work/book.lua" "$base/bookings" >"$work/load.out" 2>&1 &
load=$!
sleep 1
: >"$work/booking.ms"
while read -r id start end; do
  s="$(TZ=Australia/Sydney date -d "$start" +%Y-%m-%dT%H:%M:%S.000%:z)"
  e="$(TZ=Australia/Sydney date -d "$end" +%Y-%m-%dT%H:%M:%S.000%:z)"
  body="{\"location\":$syd,\"schedule\":$dr07,\"appointmentType\":$act0,\"start\":\"$s\",\"end\":\"$e\",\"firstName\":\"Probe\",\"lastName\":\"P$id\",\"email\":\"probe-$id@example.org\"}"
  curl -sf -u bench:bench-password-123 -H 'Content-Type: application/json' -d "$body" "$base/bookings" >/dev/null \
    || { echo "probe booking of slot $id refused" >&2; continue; }
  t0="$(now_ms)"
  until [ "$(fhir "Slot/$id" | jq -r .status)" = busy ]; do
    [ $(( $(now_ms) - t0 )) -gt 10000 ] && { echo "slot $id not busy after 10 s" >&2; break; }
  done
  echo $(( $(now_ms) - t0 )) >>"$work/booking.ms"
done <"$work/probes"
echo "a booking visible as busy in Slot (read after its 201), while booking: $(percentiles "$work/booking.ms")"

# An availability change from another process (the CSV import), shown by the worker of serve.
weekday="$(TZ=Australia/Sydney date -d "$probe_from" +%u)"
[ "$weekday" = 7 ] && probe_from="$(date -u -d '+71 days' +%Y-%m-%dT00:00:00Z)" && weekday=1
day="$(TZ=Australia/Sydney date -d "$probe_from" +%Y-%m-%d)"
early="$(TZ=UTC date -d "TZ=\"Australia/Sydney\" $day 07:00" +%Y-%m-%dT%H:%M:%SZ)"
today="$(date -u +%d/%m/%Y)"
last="$(date -u -d '+90 days' +%d/%m/%Y)"
: >"$work/change.ms"
for i in $(seq 1 10); do
  if [ $((i % 2)) = 1 ]; then starts="07:00"; want=1; else starts="08:00"; want=0; fi
  printf 'AVAILABILITY_LID;RESOURCE_LID;LOCATION_LID;R_WORKING_DAY;R_START_TIME;R_END_TIME;R_START_DAY;R_END_DAY\nAV-DR07-%s;DR07;SYD;%s;%s;20:00;%s;%s\n' \
    "$weekday" "$weekday" "$starts" "$today" "$last" >"$work/change.csv"
  target/release/rendez import availabilities "$work/change.csv" >/dev/null
  t0="$(now_ms)"
  until [ "$(fhir "Slot?schedule=Schedule/$dr07&start=$early&status=free&_count=0" | jq .total)" = "$want" ]; do
    [ $(( $(now_ms) - t0 )) -gt 10000 ] && { echo "change $i not visible after 10 s" >&2; break; }
    sleep 0.01
  done
  echo $(( $(now_ms) - t0 )) >>"$work/change.ms"
done
echo "an availability change visible in Slot, while booking:       $(percentiles "$work/change.ms")"
wait "$load" || true
unset load
awk '/^Requests\/sec/ {printf "booking load: %s req/s\n", $2}' "$work/load.out"
