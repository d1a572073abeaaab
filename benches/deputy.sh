#!/usr/bin/env bash
# The Deputy sync benchmark: a fake Deputy install (tests/api/deputy/fake_deputy.rs) holds
# 10,000 published shifts for 50 mapped clinicians over 28 days; Rendez's first poll reads them
# (20 pages of 500 rows by the `start` offset, plus one overlap row a page) and applies them in
# one transaction with its watermark; then a poll with nothing changed, which must cost one
# request; then a full pass over the same rosters, none changed; then 20 webhook calls, each a
# new shift, timed until a search on a second server of the same database offers it. Prints the
# requests and the seconds of each. The unoptimised test build, as the README's figures say.
#
# Usage: benches/deputy.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root; the default)
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-mysql}"
case "$backend" in
  sqlite) filter="deputy::bench::bench_first_sync_sqlite" ;;
  mysql) filter="deputy::bench::bench_first_sync_mysql" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
export MYSQL_TEST_URL="${MYSQL_TEST_URL:-mysql://root@127.0.0.1:3306}"
cargo test --features mysql --test api -- "$filter" --ignored --exact --nocapture 2>&1 \
  | grep -E '^deputy |test result|panicked'
