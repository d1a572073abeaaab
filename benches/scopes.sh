#!/usr/bin/env bash
# The scopes benchmark (issue 18): the booking bench's clinic (examples/bench_seed) under a
# national access model (examples/scopes_seed: 10,000 locations in 5 levels, 1,000 teams, 10,000
# principals). Measures:
#   1. in memory, without HTTP (examples/scope_bench, thread CPU): a search as the unscoped
#      `bench` against the same search as `national` (all 10,000 locations in view) and as the
#      team member `collector` (its district), and what resolving a scope costs;
#   2. over HTTP with wrk (64 connections, searchAvailabilities all resources at MAD, 20
#      results): the three principals' rates, in turns, twice;
#   3. a reassignment: the collector moved from team T0000 (MAD's district) to T0899 (SYD's) with
#      `rendez teams leave/join`, while two servers on the database are asked by the collector
#      at MAD and at SYD: how long until both refuse MAD and allow SYD.
#
# Usage: benches/scopes.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# Needs wrk (apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
port="${BENCH_PORT:-18191}"
port2=$((port + 1))
password="bench-password-123"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet --features mysql --bin rendez --example bench_seed \
  --example scopes_seed --example scope_bench
work="$(mktemp -d)"
trap 'kill "${server:-0}" "${server2:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_scopes_bench; CREATE DATABASE rendez_scopes_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_scopes_bench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"
target/release/examples/scopes_seed "$url" "$password"
echo "== 1. in memory"
target/release/examples/scope_bench "$url"

for p in "$port" "$port2"; do
  RENDEZ_BIND="127.0.0.1:$p" RENDEZ_BOOKING_LEAD=0 RENDEZ_DB_POOL_SIZE=16 \
    target/release/rendez serve --no-workers >"$work/serve.$p.log" 2>&1 &
  if [ "$p" = "$port" ]; then server=$!; else server2=$!; fi
done
for p in "$port" "$port2"; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done
start_day="$(date -u -d tomorrow +%d/%m/%Y)"
inner="<ACTIVITY_LID>ACT2</ACTIVITY_LID><AVA_START_DAY>$start_day</AVA_START_DAY><AVA_RESULTS_NUMBER>20</AVA_RESULTS_NUMBER><LOCATION_LID>MAD</LOCATION_LID>"
envelope() {
  printf '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Body><r:searchAvailabilities>%s</r:searchAvailabilities></s:Body></s:Envelope>' "$1"
}
for who in bench national collector; do
  cat >"$work/$who.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$who" "$password" | base64)"
wrk.body = '$(envelope "$inner")'
LUA
done

echo "== 2. over HTTP: searchAvailabilities, all resources at MAD ($connections connections, ${duration}s each)"
for who in bench national collector; do
  # Unmeasured: the first requests pay the password check (Argon2id) and the scope resolution.
  wrk -t2 -c"$connections" -d2s -s "$work/$who.lua" "http://127.0.0.1:$port/soap" >/dev/null
done
for round in 1 2; do
  for who in bench national collector; do
    out="$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/$who.lua" "http://127.0.0.1:$port/soap")"
    rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
    p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")"
    printf 'round %s  %-10s %10s req/s   p99 %8s   errors %s\n' "$round" "$who" "$rps" "$p99" "${errors:-0}"
    echo "$rps" >>"$work/rps.$who"
  done
done
for who in national collector; do
  awk -v who="$who" 'NR==FNR { b += $1; nb++; next } { s += $1; ns++ } END { printf "%-10s %+.1f %% against unscoped (mean of %d rounds)\n", who, (s / ns / (b / nb) - 1) * 100, ns }' \
    "$work/rps.bench" "$work/rps.$who"
done

echo "== 3. a reassignment, seen by two servers"
# 0 when the collector may search at $2 on port $1, 1 when refused.
allowed() {
  local body
  body="$(curl -s -u "collector:$password" -H 'Content-Type: text/xml; charset=utf-8' \
    --data "$(envelope "<ACTIVITY_LID>ACT2</ACTIVITY_LID><AVA_START_DAY>$start_day</AVA_START_DAY><AVA_RESULTS_NUMBER>1</AVA_RESULTS_NUMBER><LOCATION_LID>$2</LOCATION_LID>")" \
    "http://127.0.0.1:$1/soap")"
  ! grep -q 'Fault>' <<<"$body"
}
for p in "$port" "$port2"; do
  allowed "$p" MAD || { echo "before the move the collector should search at MAD" >&2; exit 1; }
  ! allowed "$p" SYD || { echo "before the move the collector should not search at SYD" >&2; exit 1; }
done
moved="$(date +%s%N)"
target/release/rendez teams leave T0000 collector >/dev/null
target/release/rendez teams join T0899 collector --role member >/dev/null
committed="$(date +%s%N)"
for p in "$port" "$port2"; do
  until ! allowed "$p" MAD && allowed "$p" SYD; do
    [ $(( ($(date +%s%N) - moved) / 1000000 )) -lt 10000 ] || { echo "port $p: not enforced after 10 s" >&2; exit 1; }
    sleep 0.02
  done
  printf 'port %s enforces the move %4d ms after the commit (the two commands took %d ms)\n' \
    "$p" $(( ($(date +%s%N) - committed) / 1000000 )) $(( (committed - moved) / 1000000 ))
done
