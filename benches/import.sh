#!/usr/bin/env bash
# The appointment-import benchmark: a clinic's export (seed A.1.1) of 100,000 appointments over
# 2 centers, 50 doctors and 90 days, with patients' mobiles and emails, imported with
# `rendez import appointments` into a fresh database whose centers and doctors were pushed
# before; every appointment gets its reminders planned (72h and 24h) in the same run. Then the
# next export: the same window with 10% of the appointments moved and 5% gone (cancelled, their
# reminders withdrawn by the planner), imported likewise. Prints the wall time of each command
# (process start, migrations and planning included) and what it did.
#
# Usage: benches/import.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
count="${BENCH_APPOINTMENTS:-100000}"

cargo build --release --quiet --features mysql --bin rendez
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_bench_import; CREATE DATABASE rendez_bench_import CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    trap 'mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS rendez_bench_import"; rm -rf "$work"' EXIT
    url="mysql://root@127.0.0.1:3306/rendez_bench_import" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn

python3 - "$work" "$count" <<'PY'
import datetime, random, sys
work, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
with open(f"{work}/keyentities.csv", "w") as f:
    f.write("LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE;RESOURCE_LID;RESOURCE_FIRST_NAME;RESOURCE_SECOND_NAME\n")
    for d in range(50):
        c = d % 2
        f.write(f"C{c};Centro {c};Europe/Madrid;DR{d:02};Doctor;Number {d}\n")
first = datetime.date.today() + datetime.timedelta(days=1)
header = "APP_LID;APP_DATE;APP_START_TIME;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;RESOURCE_NAME;RESOURCE_MOBILE_PHONE;RESOURCE_EMAIL;LOCATION_LID;LOCATION_NAME\n"
rows = []
per_day = count // 90 + 1
for i in range(count):
    day = first + datetime.timedelta(days=i // per_day)
    d = i % 50
    slot = (i // 50) % 40                      # 40 quarter hours from 08:00 to 18:00
    minutes = 8 * 60 + slot * 15
    mobile = f"+346{random.randrange(10**7, 10**8)}"
    email = f"patient{i}@example.org" if i % 3 == 0 else ""
    rows.append([f"APP{i:07}", day, minutes, mobile, email, f"DR{d:02}", f"C{d % 2}"])
def write(name, rows):
    with open(f"{work}/{name}", "w") as f:
        f.write(header)
        for lid, day, minutes, mobile, email, dr, c in rows:
            f.write(f"{lid};{day:%d/%m/%Y};{minutes // 60:02}:{minutes % 60:02};;{mobile};{email};{dr};Doctor {dr};;;{c};Centro {c}\n")
write("export-1.csv", rows)
later = []
for i, r in enumerate(rows):
    if i % 20 == 7 and 0 < i < len(rows) - 1:
        continue                                   # 5% gone
    if i % 10 == 3:
        r = r[:2] + [r[2] + 60] + r[3:]            # 10% moved an hour later
    later.append(r)
write("export-2.csv", later)
PY

target/release/rendez migrate >/dev/null
target/release/rendez import keyentities "$work/keyentities.csv" >/dev/null

run() {
  local label="$1" file="$2" start end
  start=$(date +%s.%N)
  target/release/rendez import appointments "$file" >"$work/$label.out"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v l="$label" 'BEGIN { printf "%-34s %6.1f s\n", l, e - s }'
  sed 's/^/    /' "$work/$label.out"
}
echo "backend: $backend, $count appointments, 2 centers, 50 doctors, 90 days"
run "first export (all new)" "$work/export-1.csv"
run "next export (10% moved, 5% gone)" "$work/export-2.csv"
