#!/usr/bin/env bash
# The slot publication benchmark: seeds the booking benchmark's clinic (examples/bench_seed:
# 2 centers, 50 doctors on a 15-minute grid, 08:00-20:00 six days a week for 90 days, 20,000
# booked appointments), then times `rendez slots regenerate`:
#   1. every role from nothing (the 90-day window of all 50 doctors computed and stored);
#   2. one practitioner's change (a CSV import moves DR00's Monday to 09:00-20:00): that role;
#   3. every role again after it (each compared, only the changed one written).
# Prints the seconds of each and the slots stored.
#
# Usage: benches/slots.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"

cargo build --release --quiet --features mysql --bin rendez --example bench_seed
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$backend" in
  sqlite)
    url="sqlite://$work/bench.db"
    sql() { sqlite3 "$work/bench.db" "$1"; } ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_slots_bench; CREATE DATABASE rendez_slots_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_slots_bench"
    sql() { mysql -uroot -h127.0.0.1 -N -B rendez_slots_bench -e "$1"; } ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
target/release/examples/bench_seed "$url"

# Seconds taken by a command, its output kept in $work/out.
timed() {
  local start end
  start="$(date +%s.%N)"
  "$@" >"$work/out"
  end="$(date +%s.%N)"
  echo "$end - $start" | bc
}

all="$(timed target/release/rendez slots regenerate --all)"
echo "$backend: every role from nothing: ${all} s ($(tail -1 "$work/out"))"

today="$(date -u +%d/%m/%Y)"
last="$(date -u -d '+90 days' +%d/%m/%Y)"
printf 'AVAILABILITY_LID;RESOURCE_LID;LOCATION_LID;R_WORKING_DAY;R_START_TIME;R_END_TIME;R_START_DAY;R_END_DAY\nAV-DR00-1;DR00;MAD;1;09:00;20:00;%s;%s\n' \
  "$today" "$last" >"$work/change.csv"
target/release/rendez import availabilities "$work/change.csv" >/dev/null
role="$(sql "SELECT o.number FROM online_ids o, resources r, centers c WHERE o.kind = 'schedule' AND r.lid = 'DR00' AND c.lid = 'MAD' AND o.internal_id = CONCAT(r.id, '/', c.id)" 2>/dev/null \
  || sql "SELECT o.number FROM online_ids o, resources r, centers c WHERE o.kind = 'schedule' AND r.lid = 'DR00' AND c.lid = 'MAD' AND o.internal_id = r.id || '/' || c.id")"
one="$(timed target/release/rendez slots regenerate --role "$role")"
echo "$backend: one practitioner's change (role $role): ${one} s ($(head -1 "$work/out"))"
again="$(timed target/release/rendez slots regenerate --all)"
echo "$backend: every role after it: ${again} s ($(tail -1 "$work/out"))"
echo "$backend: slots stored: $(sql 'SELECT COUNT(*) FROM slots')"
