#!/usr/bin/env bash
# The Galera benchmark: bookings (addAppointment, every request a different free slot) and
# updateMessages (100 SMS per call) through three `rendez serve` processes, each on its own node
# of a 3-node MariaDB Galera cluster on this machine (deploy/galera/cluster.sh), against one
# `rendez serve` on the one MariaDB at 127.0.0.1:3306. The same seeded clinic (examples/bench_seed)
# and the same load (wrk, 48 connections in all) on both.
#
# Usage: benches/galera.sh      Needs wrk, mariadb-server, galera-4, rsync. About four minutes.
# The cluster is started fresh and stopped at the end. On one machine the three nodes share its
# cores and the certification traffic crosses loopback: the figures compare costs, they are not
# what three machines give.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-48}"
port="${BENCH_PORT:-18481}"
threads=1   # wrk threads per server
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet --features mysql --bin rendez --example bench_seed --example messaging_bench
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  deploy/galera/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn RENDEZ_BOOKING_LEAD=0
export RENDEZ_DB_POOL_SIZE=16 RENDEZ_SMS_PROVIDER=twilio
export RENDEZ_TWILIO_ACCOUNT_SID=ACbench RENDEZ_TWILIO_AUTH_TOKEN=bench-token RENDEZ_TWILIO_FROM=+34911222333
export RENDEZ_TWILIO_BASE_URL="http://127.0.0.1:9"
auth="Basic $(printf 'bench:bench-password-123' | base64)"

cat >"$work/book.lua" <<LUA
-- Every request books another slot: doctor, day and time from a per-thread counter; the base
-- (BASE) keeps the servers' requests apart.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$auth"
local base = tonumber(os.getenv("BASE") or "0")
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
  -- The threads' counters interleave: together they walk doctor, then time, then day.
  local n = (counter - 1) * $threads + (thread_id - 1)
  local doctor = n % 50
  local slot = math.floor(n / 50) % 24
  local day = 1 + base + math.floor(n / 1200)
  local date = os.date("!%d/%m/%Y", os.time() + day * 86400)
  local minutes = 14 * 60 + slot * 15
  local time = string.format("%02d:%02d", math.floor(minutes / 60), minutes % 60)
  local body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:addAppointment>'
    .. '<ACTIVITY_LID>ACT0</ACTIVITY_LID><RESOURCE_LID>DR' .. string.format("%02d", doctor) .. '</RESOURCE_LID>'
    .. '<APP_DATE>' .. date .. '</APP_DATE><APP_START_TIME>' .. time .. '</APP_START_TIME>'
    .. '<USER_LID>BENCH-' .. base .. '-' .. thread_id .. '-' .. counter .. '</USER_LID><USER_FIRST_NAME>Bench</USER_FIRST_NAME>'
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
  io.write(string.format("BOOKED %d %d %.3f %.1f %.1f\n", ok, no, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

# Seeds $1 (a database URL), starts one server per URL given after it, measures, stops them.
measure() {
  local label="$1" seed_url="$2"; shift 2
  local urls=("$@") servers=() i
  DATABASE_URL="$seed_url" target/release/examples/bench_seed "$seed_url" >/dev/null
  DATABASE_URL="$seed_url" target/release/rendez client add bench --roles booking,admin,messaging --password bench-password-123 >/dev/null
  for i in "${!urls[@]}"; do
    DATABASE_URL="${urls[$i]}" RENDEZ_BIND="127.0.0.1:$((port + i))" \
      target/release/rendez serve --no-workers >"$work/serve-$label-$i.log" 2>&1 &
    servers+=($!); pids+=($!)
  done
  for i in "${!urls[@]}"; do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((port + i))/healthz" >/dev/null && break; sleep 0.1; done
  done
  local n=${#urls[@]} per=$((connections / ${#urls[@]}))
  local loads=()
  # Bookings: all servers at once, each with its share of the connections.
  for i in "${!urls[@]}"; do
    BASE=$((i * 40)) wrk -t"$threads" -c"$per" -d"${duration}s" -s "$work/book.lua" "http://127.0.0.1:$((port + i))/soap" >"$work/book-$label-$i.out" &
    loads+=($!)
  done
  wait "${loads[@]}"
  loads=()
  awk -v label="$label" -v n="$n" '/^BOOKED/ { ok += $2; no += $3; s = ($4 > s ? $4 : s); p50 += $5; if ($6 > p99) p99 = $6 }
    END { printf "%-28s addAppointment: %6.0f bookings/s committed (%d refused), p50 %.1f ms (mean of servers), p99 %.1f ms (worst)\n", label, ok / s, no, p50 / n, p99 }' "$work"/book-"$label"-*.out
  # updateMessages: 100 SMS per call, 16 callers spread over the servers.
  for i in "${!urls[@]}"; do
    target/release/examples/messaging_bench accept "http://127.0.0.1:$((port + i))/soap" bench bench-password-123 "$duration" $((16 / n)) >"$work/msg-$label-$i.out" &
    loads+=($!)
  done
  wait "${loads[@]}"
  awk -v label="$label" '{ for (i = 1; i <= NF; i++) if ($i == "messages/s") rate += $(i - 1); for (i = 1; i <= NF; i++) if ($i ~ /^\(/ ) { r = substr($i, 2); refused += r } }
    END { printf "%-28s updateMessages: %6.0f messages/s accepted (%d refused)\n", label, rate, refused }' "$work"/msg-"$label"-*.out
  for s in "${servers[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
}

echo "== one server on one MariaDB (127.0.0.1:3306)"
mysql --no-defaults -uroot -h127.0.0.1 -P3306 -e 'DROP DATABASE IF EXISTS rendez_galera_bench; CREATE DATABASE rendez_galera_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
measure "1 server, 1 MariaDB" "mysql://root@127.0.0.1:3306/rendez_galera_bench" \
  "mysql://root@127.0.0.1:3306/rendez_galera_bench"
mysql --no-defaults -uroot -h127.0.0.1 -P3306 -e 'DROP DATABASE IF EXISTS rendez_galera_bench'

echo "== three servers on three Galera nodes"
deploy/galera/cluster.sh start >/dev/null
node() { echo "$(deploy/galera/cluster.sh url "$1")/rendez_galera_bench"; }
mysql --no-defaults -uroot -h127.0.0.1 -P3331 -e 'CREATE DATABASE rendez_galera_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
measure "3 servers, 3 Galera nodes" "$(node 1)" "$(node 1)" "$(node 2)" "$(node 3)"
