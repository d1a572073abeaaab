#!/usr/bin/env bash
# The operator console benchmark (issue 20): with 1,000,000 messages and 200,000 appointments in
# MariaDB, every list and the overview must answer in under 100 ms at p99.
#
# Seeds in bulk with INSERT ... SELECT over MariaDB's sequence tables (seq_1_to_N), after
# `rendez migrate`, so every index of the migrations is there while the rows go in:
#   20 centers (16 in Europe/Madrid, 4 in Atlantic/Canary), 10 clinicians each, 100,000
#   patients (50 first names, 5,000 surnames), 200,000 appointments over 365 days (300 past,
#   65 ahead; 10 % cancelled, future ones half unconfirmed), two notices each (a confirmation
#   and a reminder) with their messages; 600,000 more messages of three API clients, among
#   them; the 1,000,000 messages spread over 365 days up to now (80 % SMS through twilio, 20 % email through smtp; mostly DELIVERED, some
#   FAILED, EXPIRED, SENT, and the last hour QUEUED), one send attempt per message sent or
#   failed, and one delivery report per DELIVERED or reported FAILED message.
# Then signs two operators in (`bench`, viewing all 20 centers; `scoped`, viewing C05 only) and
# asks each page with wrk (BENCH_CONNECTIONS connections, default 4, BENCH_SECONDS each, default
# 10 s), printing wrk's latency percentiles.
#
# Usage: benches/console.sh   (MariaDB at 127.0.0.1:3306, root; wrk, curl and mysql installed)
#   BENCH_SEED_ONLY=1 stops after seeding (the database rendez_console_bench stays, to EXPLAIN);
#   RENDEZ_BIN=path uses that binary instead of building the release one;
#   BENCH_REUSE=1 measures a database seeded before (by BENCH_SEED_ONLY=1) without seeding again.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-4}"
port="${BENCH_PORT:-18291}"
password="bench-password-123"
database=rendez_console_bench
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

rendez="${RENDEZ_BIN:-target/release/rendez}"
[ -n "${RENDEZ_BIN:-}" ] || cargo build --release --quiet --features mysql --bin rendez
work="$(mktemp -d)"
trap '[ -z "${server:-}" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
url="mysql://root@127.0.0.1:3306/$database"
export DATABASE_URL="$url" RENDEZ_SECRET_KEY_FILE="$work/rendez.key" RUST_LOG=warn
sql() { mysql -uroot -h127.0.0.1 "$database" -e "$1"; }
if [ -z "${BENCH_REUSE:-}" ]; then
mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $database; CREATE DATABASE $database CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
"$rendez" migrate >/dev/null
seeded=$(date +%s)
echo "== seeding"
sql "
SET @now = UTC_TIMESTAMP(6);
INSERT INTO centers (id, lid, name, timezone, active, created_at, updated_at, online_booking)
SELECT CONCAT('c-', seq), CONCAT('C', LPAD(seq, 2, '0')), CONCAT('Centro ', seq),
       IF(seq <= 16, 'Europe/Madrid', 'Atlantic/Canary'), TRUE, @now, @now, TRUE
FROM seq_1_to_20;
INSERT INTO activities (id, lid, name, duration_minutes, active, created_at, updated_at, online_booking)
VALUES ('act-1', 'A30', 'Consulta', 30, TRUE, @now, @now, TRUE);
INSERT INTO resources (id, lid, first_name, second_name, web_enabled, active, created_at, updated_at)
SELECT CONCAT('r-', seq), CONCAT('R', LPAD(seq, 3, '0')), 'Doctor', CONCAT('R', seq), TRUE, TRUE, @now, @now
FROM seq_0_to_199;
INSERT INTO resource_centers (resource_id, center_id, active)
SELECT CONCAT('r-', seq), CONCAT('c-', seq DIV 10 + 1), TRUE FROM seq_0_to_199;
INSERT INTO patients (id, tid, lid, first_name, second_name, mobile_phone, language, created_at, updated_at)
SELECT CONCAT('p-', seq), CONCAT('t-', seq), CONCAT('P', seq),
       ELT(seq MOD 50 + 1, 'Ana','Bea','Carla','Diana','Elena','Fatima','Gloria','Helena','Ines','Julia',
           'Karen','Lucia','Marta','Nuria','Olga','Paula','Queralt','Rosa','Sara','Teresa',
           'Ursula','Vera','Wendy','Ximena','Yolanda','Zoe','Alberto','Bruno','Carlos','David',
           'Enrique','Felipe','Gonzalo','Hugo','Ivan','Jorge','Kevin','Luis','Mario','Nicolas',
           'Oscar','Pablo','Quique','Raul','Sergio','Tomas','Ulises','Victor','Walter','Xavier'),
       CONCAT('Apellido', seq MOD 5000), CONCAT('+346', LPAD(seq, 8, '0')), 'es', @now, @now
FROM seq_0_to_99999;
"
echo "   master data and patients: $(( $(date +%s) - seeded )) s"
sql "
SET @now = UTC_TIMESTAMP(6);
SET @first = @now - INTERVAL 300 DAY;
INSERT INTO appointments (id, lid, resource_id, center_id, activity_id, patient_id, start_at, end_at,
                          status, live, created_at, updated_at)
SELECT CONCAT('a-', seq), CONCAT('APP', seq), CONCAT('r-', seq MOD 200), CONCAT('c-', (seq MOD 200) DIV 10 + 1),
       'act-1', CONCAT('p-', seq MOD 100000),
       @first + INTERVAL (seq * 157) SECOND, @first + INTERVAL (seq * 157 + 1800) SECOND,
       CASE WHEN seq MOD 10 = 0 THEN 'CANCELLED by USER'
            WHEN @first + INTERVAL (seq * 157) SECOND > @now AND seq MOD 2 = 0 THEN 'PENDING'
            ELSE 'APPROVED' END,
       seq MOD 10 <> 0, @first + INTERVAL (CAST(seq AS SIGNED) * 157 - 86400 * 7) SECOND, @now
FROM seq_0_to_199999;
"
echo "   appointments: $(( $(date +%s) - seeded )) s"
# Message n (0..999,999) is created at @now - (999,999 - n) * 31.5 s (365 days); when n MOD 5
# is 0 or 1, it is a notice of appointment n DIV 5 (confirmation, reminder).
sql "
SET @now = UTC_TIMESTAMP(6);
SET @oldest = @now - INTERVAL 31535968 SECOND;
INSERT INTO messages (id, owner, legacy_id, channel, recipient, body, status, send_at, due_at, attempts,
                      provider, provider_id, error_message, created_at, updated_at, sent_at, delivered_at)
SELECT id, owner, legacy_id, channel, recipient, 'Su cita es el ...', status, created, created,
       IF(status = 'QUEUED', 0, 1),
       IF(status = 'QUEUED', NULL, IF(channel = 'SMS', 'twilio', 'smtp')),
       IF(status IN ('QUEUED', 'EXPIRED'), NULL, CONCAT('prov-', seq)),
       IF(status IN ('FAILED', 'EXPIRED'), 'the provider refused it', NULL),
       created, created + INTERVAL 60 SECOND,
       IF(status IN ('SENT', 'DELIVERED', 'FAILED'), created + INTERVAL 5 SECOND, NULL),
       IF(status = 'DELIVERED', created + INTERVAL 40 SECOND, NULL)
FROM (
  SELECT seq, CONCAT('m-', seq) AS id,
         IF(seq MOD 5 < 2, 'rendez:confirmations', CONCAT('client-', seq MOD 3)) AS owner,
         CONCAT('L', seq) AS legacy_id,
         IF(seq MOD 5 = 0, 'EMAIL', 'SMS') AS channel,
         IF(seq MOD 5 = 0, CONCAT('p', seq MOD 200000, '@example.org'), CONCAT('+346', LPAD(seq MOD 200000, 8, '0'))) AS recipient,
         @oldest + INTERVAL ROUND(seq * 31.536) SECOND AS created,
         CASE WHEN seq >= 999880 THEN 'QUEUED'
              WHEN seq >= 999000 AND seq MOD 4 = 0 THEN 'SENT'
              WHEN seq MOD 100 < 6 THEN 'FAILED'
              WHEN seq MOD 100 = 6 THEN 'EXPIRED'
              WHEN seq MOD 100 < 9 THEN 'SENT'
              ELSE 'DELIVERED' END AS status
  FROM seq_0_to_999999
) m;
"
echo "   messages: $(( $(date +%s) - seeded )) s"
sql "
INSERT INTO appointment_notices (id, appointment_id, kind, offset_seconds, appointment_start, due_at, state,
                                 channel, recipient, language, message_id, created_at, updated_at)
SELECT CONCAT('n-', m.seq), CONCAT('a-', m.seq DIV 5), IF(m.seq MOD 5 = 0, 'confirmation', 'reminder'),
       IF(m.seq MOD 5 = 0, 0, -86400), p.start_at, p.created_at, 'SENT',
       'SMS', CONCAT('+346', LPAD(m.seq, 8, '0')), 'es', CONCAT('m-', m.seq), p.created_at, p.created_at
FROM seq_0_to_999999 m JOIN appointments p ON p.id = CONCAT('a-', m.seq DIV 5)
WHERE m.seq MOD 5 < 2;
INSERT INTO message_attempts (id, message_id, attempt, started_at, finished_at, outcome, provider, provider_id, error_message)
SELECT CONCAT('at-', SUBSTRING(id, 3)), id, 1, created_at + INTERVAL 4 SECOND, created_at + INTERVAL 5 SECOND,
       IF(status IN ('FAILED', 'EXPIRED') AND sent_at IS NULL, status, 'SENT'), provider, provider_id, error_message
FROM messages WHERE status <> 'QUEUED';
INSERT INTO message_reports (id, provider, provider_id, message_id, status, provider_status, received_at)
SELECT CONCAT('rp-', SUBSTRING(id, 3)), provider, provider_id, id, status,
       IF(status = 'DELIVERED', 'delivered', 'undelivered'), COALESCE(delivered_at, updated_at)
FROM messages WHERE status IN ('DELIVERED', 'FAILED') AND sent_at IS NOT NULL;
ANALYZE TABLE appointments, messages, patients, appointment_notices, message_attempts, message_reports;
" >/dev/null
echo "   notices, attempts, reports: $(( $(date +%s) - seeded )) s"
[ -z "${BENCH_SEED_ONLY:-}" ] || { echo "seeded in $(( $(date +%s) - seeded )) s"; exit 0; }
fi
sql "SELECT (SELECT COUNT(*) FROM messages) AS messages, (SELECT COUNT(*) FROM appointments) AS appointments,
            (SELECT COUNT(*) FROM message_attempts) AS attempts, (SELECT COUNT(*) FROM message_reports) AS reports"

printf '%s\n' "$password" | "$rendez" operator add bench --roles booking,messaging,results,admin \
  --view "$(seq -f 'C%02g' 1 20 | paste -sd, -)" >/dev/null || [ -n "${BENCH_REUSE:-}" ]
printf '%s\n' "$password" | "$rendez" operator add scoped --roles booking,messaging --view C05 >/dev/null || [ -n "${BENCH_REUSE:-}" ]

RENDEZ_BIND="127.0.0.1:$port" RENDEZ_DB_POOL_SIZE=16 RENDEZ_CONSOLE_SECURE_COOKIE=false \
  "$rendez" serve --no-workers >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

# Signs an operator in; prints its session cookie.
sign_in() {
  local jar="$work/$1.jar" form token
  form="$(curl -s -c "$jar" "$base/console/login")"
  token="$(printf '%s' "$form" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "name=$1" \
    --data-urlencode "password=$password" --data-urlencode "csrf=$token" "$base/console/login"
  awk '$6 == "rendez_console" { print $7 }' "$jar"
}
bench_cookie="$(sign_in bench)"
scoped_cookie="$(sign_in scoped)"
[ -n "$bench_cookie" ] && [ -n "$scoped_cookie" ] || { echo "cannot sign in" >&2; exit 1; }

since="$(date -u -d '24 hours ago' +%Y-%m-%dT%H:%M:%S)"
day="$(date -u -d '40 days ago' +%Y-%m-%d)"
timeline="$(mysql -uroot -h127.0.0.1 "$database" -N -e "SELECT id FROM appointments WHERE center_id = 'c-5' ORDER BY start_at DESC LIMIT 1")"
run() {
  local who="$1" path="$2" cookie
  cookie="$bench_cookie"; [ "$who" = scoped ] && cookie="$scoped_cookie"
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: rendez_console=$cookie" "$base$path")"
  [ "$status" = 200 ] || { echo "$path answered $status" >&2; exit 1; }
  local out
  out="$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H "Cookie: rendez_console=$cookie" "$base$path")"
  printf '%-7s %-80s p50 %-9s p99 %-9s %s req/s\n' "$who" "$path" \
    "$(printf '%s' "$out" | awk '$1 == "50%" { print $2 }')" \
    "$(printf '%s' "$out" | awk '$1 == "99%" { print $2 }')" \
    "$(printf '%s' "$out" | awk '/Requests\/sec/ { print $2 }')"
}
# Warm up: the pool's connections open, the server's caches fill.
wrk -t1 -c"$connections" -d3s -H "Cookie: rendez_console=$bench_cookie" "$base/console/overview" >/dev/null
echo "== wrk, $connections connections, ${duration} s per page"
run bench "/console/overview"
run bench "/console/appointments"
run bench "/console/appointments?center=C05"
run bench "/console/appointments?date=today"
run bench "/console/appointments?center=C05&date=week&status=APPROVED"
run bench "/console/appointments?clinician=R042"
run bench "/console/appointments?patient=Apellido4321"
run bench "/console/appointments?patient=Lucia"
run bench "/console/appointments?page=100"
run bench "/console/appointments/$timeline"
run bench "/console/messages"
run bench "/console/messages?channel=SMS&state=FAILED"
run bench "/console/messages?state=QUEUED"
run bench "/console/messages?recipient=%2B34600012345"
run bench "/console/messages?client=rendez%3Aconfirmations"
run bench "/console/messages?provider=twilio&state=DELIVERED&sent_since=$since"
run bench "/console/messages?date=$day"
run bench "/console/messages?page=100"
run bench "/console/messages/m-999000"
run scoped "/console/overview"
run scoped "/console/appointments?date=today"
run scoped "/console/messages"
run scoped "/console/appointments/$timeline"
