#!/usr/bin/env bash
# The messaging benchmark: with an instant local SMS provider (examples/provider_sink, speaking
# Twilio's API) and a local SMTP sink (examples/smtp_server, the tests' SMTP server), measures
#   - updateMessages with 100 SMS per call (messages accepted per second, `serve --no-workers`),
#   - SMS and emails per second from QUEUED to SENT through one `rendez worker` process.
#
# Usage: benches/messaging.sh [sqlite|mysql]   (mysql: MariaDB at 127.0.0.1:3306, root)
# About a minute after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
seconds="${BENCH_SECONDS:-10}"
callers="${BENCH_CONNECTIONS:-16}"
port="${BENCH_PORT:-18381}"
sms_n="${BENCH_SMS:-20000}"
email_n="${BENCH_EMAILS:-5000}"

cargo build --release --quiet --features mysql --bin rendez --example provider_sink --example smtp_server --example messaging_bench
work="$(mktemp -d)"
pids=()
cleanup() {
  exec 3>&-
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  mysql)
    mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS rendez_msg_bench; CREATE DATABASE rendez_msg_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    url="mysql://root@127.0.0.1:3306/rendez_msg_bench" ;;
  *) echo "usage: $0 [sqlite|mysql]" >&2; exit 2 ;;
esac
sink_port=$((port + 1)); smtp_port=$((port + 2))
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
export RENDEZ_PUBLIC_URL="http://127.0.0.1:$port"
export RENDEZ_TWILIO_ACCOUNT_SID=ACbench RENDEZ_TWILIO_AUTH_TOKEN=bench-token RENDEZ_TWILIO_FROM=+34911222333
export RENDEZ_TWILIO_BASE_URL="http://127.0.0.1:$sink_port"
export RENDEZ_MAIL_FROM="Clinica <citas@clinica.example>"
export RENDEZ_DB_POOL_SIZE=16
bench=target/release/examples/messaging_bench

target/release/examples/provider_sink "$sink_port" & pids+=($!)
# The SMTP sink stops when its standard input closes: this script holds the pipe's other end.
mkfifo "$work/smtp.stdin"
target/release/examples/smtp_server "$smtp_port" - <"$work/smtp.stdin" >"$work/smtp.log" 2>&1 & pids+=($!)
exec 3>"$work/smtp.stdin"
target/release/rendez migrate >/dev/null
target/release/rendez client add bench --roles messaging --password bench-password-123 >/dev/null

echo "backend: $backend"
# Accepting: the providers are configured (so both channels are accepted) but nothing sends.
RENDEZ_BIND="127.0.0.1:$port" RENDEZ_SMS_PROVIDER=twilio \
  target/release/rendez serve --no-workers >"$work/serve.log" 2>&1 & server=$!; pids+=($server)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
"$bench" accept "http://127.0.0.1:$port/soap" bench bench-password-123 "$seconds" "$callers"
kill "$server"; wait "$server" 2>/dev/null || true
# The accepted backlog is not what the sending figures measure: set it aside.
case "$backend" in
  sqlite) /usr/bin/python3 - "$work/bench.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE messages SET status='CANCELLED' WHERE status='QUEUED'"); c.commit()
PY
  ;;
  mysql) mysql -uroot -h127.0.0.1 rendez_msg_bench -e "UPDATE messages SET status='CANCELLED' WHERE status='QUEUED'" ;;
esac

# Sending SMS: queue them, start one worker, time until all are SENT.
"$bench" queue "$url" SMS "$sms_n"
RENDEZ_SMS_PROVIDER=twilio RENDEZ_WORKER_CONCURRENCY="${BENCH_CONCURRENCY:-64}" \
  target/release/rendez worker >"$work/worker-sms.log" 2>&1 & worker=$!; pids+=($worker)
"$bench" drain "$url" SMS "$sms_n" 300
kill "$worker"; wait "$worker" 2>/dev/null || true

# Sending email through pooled SMTP connections.
"$bench" queue "$url" EMAIL "$email_n"
RENDEZ_SMTP_URL="smtp://127.0.0.1:$smtp_port" RENDEZ_WORKER_CONCURRENCY="${BENCH_CONCURRENCY:-64}" \
  target/release/rendez worker >"$work/worker-email.log" 2>&1 & worker=$!; pids+=($worker)
"$bench" drain "$url" EMAIL "$email_n" 300
kill "$worker"; wait "$worker" 2>/dev/null || true
