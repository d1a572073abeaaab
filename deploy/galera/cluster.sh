#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on one machine, for tests and benches (not for production:
# no passwords, relaxed durability). Needs the Debian packages mariadb-server, galera-4 and
# rsync; runs mariadbd as the mysql user; leaves any MariaDB on 3306 alone.
#
#   deploy/galera/cluster.sh start        a new, empty cluster (node 1 bootstraps, 2 and 3 join)
#   deploy/galera/cluster.sh stop         stops every node (the data stays until the next start)
#   deploy/galera/cluster.sh kill N       kills node N with SIGKILL
#   deploy/galera/cluster.sh restart N    recovers node N's position (--wsrep-recover) and
#                                         starts it; it rejoins by IST when the others still
#                                         hold what it missed (gcache), else by rsync SST
#   deploy/galera/cluster.sh status       each node's port and wsrep state
#   deploy/galera/cluster.sh url N        mysql://root@127.0.0.1:PORT (no database)
#
# Node N listens on 127.0.0.1:$((GALERA_PORT_BASE + N)) for clients (root, no password, from
# 127.0.0.1); Galera's own traffic uses $((GALERA_GCOMM_BASE + 10 * N)) and the next two ports.
# Client tools are run with --no-defaults: otherwise they read /etc/mysql and reach 3306.
set -euo pipefail

BASE=${GALERA_DIR:-/tmp/rendez-galera}
PORT_BASE=${GALERA_PORT_BASE:-3330}
GCOMM_BASE=${GALERA_GCOMM_BASE:-14560}
NODES=3
PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}

port() { echo $((PORT_BASE + $1)); }
gcomm() { echo $((GCOMM_BASE + 10 * $1)); }
dir() { echo "$BASE/node$1"; }

cluster_address() {
  local list=() n
  for n in $(seq 1 $NODES); do list+=("127.0.0.1:$(gcomm "$n")"); done
  local IFS=,
  echo "gcomm://${list[*]}"
}

write_config() {
  local n=$1 d
  d=$(dir "$n")
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$(port "$n")
bind-address=127.0.0.1
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=128M
innodb_flush_log_at_trx_commit=2
max_connections=500
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=rendez_test
wsrep_cluster_address=$(cluster_address)
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gcomm "$n")
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm "$n");ist.recv_addr=127.0.0.1:$(( $(gcomm "$n") + 1 ));gcache.size=256M"
wsrep_sst_receive_address=127.0.0.1:$(( $(gcomm "$n") + 2 ))
wsrep_sst_method=rsync
wsrep_slave_threads=2
CNF
}

client() {
  local n=$1
  shift
  mariadb --no-defaults --protocol=socket -S "$(dir "$n")/mysqld.sock" -uroot -N -B "$@"
}

state() {
  client "$1" -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_status','wsrep_cluster_size','wsrep_ready')" 2>/dev/null \
    | awk '{printf "%s=%s ", $1, $2}'
}

wait_synced() {
  local n=$1 limit=${2:-240} i
  for i in $(seq 1 "$limit"); do
    if client "$n" -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | grep -q Synced; then
      return 0
    fi
    if ! pid_alive "$n"; then
      echo "node $n died while starting; its log:" >&2
      tail -n 30 "$(dir "$n")/error.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "node $n is not synced after $((limit / 2)) s; its log:" >&2
  tail -n 30 "$(dir "$n")/error.log" >&2
  return 1
}

pid_of() { cat "$(dir "$1")/node.pid" "$(dir "$1")/mysqld.pid" 2>/dev/null | head -n 1 || true; }
pid_alive() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

launch() {
  local n=$1
  shift
  local d
  d=$(dir "$n")
  # setsid: the node outlives the shell that started it, and a test's Ctrl-C does not reach it.
  # Its pid is kept here: mariadbd writes its own pid file only once it has joined.
  setsid "$MARIADBD" --defaults-file="$d/my.cnf" --user=mysql "$@" >>"$d/stdout.log" 2>&1 </dev/null &
  echo $! >"$d/node.pid"
}

start() {
  for need in "$MARIADBD" "$PROVIDER"; do
    [ -e "$need" ] || { echo "missing $need (apt-get install mariadb-server galera-4 rsync)" >&2; exit 2; }
  done
  command -v rsync >/dev/null || { echo "missing rsync (apt-get install rsync)" >&2; exit 2; }
  stop quiet
  rm -rf "$BASE"
  mkdir -p "$BASE"
  local n
  for n in $(seq 1 $NODES); do
    mkdir -p "$(dir "$n")/data"
    write_config "$n"
  done
  chown -R mysql:mysql "$BASE"
  chmod 755 "$BASE"
  mariadb-install-db --no-defaults --datadir="$(dir 1)/data" --user=mysql \
    --auth-root-authentication-method=normal --skip-test-db >"$(dir 1)/install.log" 2>&1
  launch 1 --wsrep-new-cluster
  wait_synced 1
  # Tests and benches connect over TCP as root without a password, like the CI's MariaDB.
  client 1 -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; \
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; \
    CREATE USER IF NOT EXISTS 'root'@'localhost' IDENTIFIED BY ''; \
    ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); \
    FLUSH PRIVILEGES;"
  for n in $(seq 2 $NODES); do
    launch "$n"
    wait_synced "$n"
  done
  status
}

stop() {
  local n pid quiet=${1:-}
  for n in $(seq $NODES -1 1); do
    pid=$(pid_of "$n")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid"
    for _ in $(seq 1 120); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    [ -n "$quiet" ] || echo "node $n stopped"
  done
}

kill_node() {
  local n=$1 pid
  pid=$(pid_of "$n")
  [ -n "$pid" ] || { echo "node $n is not running" >&2; exit 1; }
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "node $n killed"
}

restart_node() {
  local n=$1 d position
  d=$(dir "$n")
  if pid_alive "$n"; then
    echo "node $n is running; kill or stop it first" >&2
    exit 1
  fi
  # The position the node's InnoDB holds, so that it asks the others for what it missed (IST).
  rm -f "$d/recover.log"
  "$MARIADBD" --defaults-file="$d/my.cnf" --user=mysql --wsrep-recover --log-error="$d/recover.log" >/dev/null 2>&1 || true
  position=$(sed -n 's/.*WSREP: Recovered position: *//p' "$d/recover.log" | tail -n 1)
  if [ -n "$position" ]; then
    launch "$n" --wsrep-start-position="$position"
  else
    launch "$n"
  fi
  wait_synced "$n"
  echo "node $n rejoined at ${position:-an unknown position}"
}

status() {
  local n
  for n in $(seq 1 $NODES); do
    if pid_alive "$n"; then
      echo "node $n: 127.0.0.1:$(port "$n") $(state "$n")"
    else
      echo "node $n: 127.0.0.1:$(port "$n") down"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill) kill_node "${2:?node number}" ;;
  restart) restart_node "${2:?node number}" ;;
  status) status ;;
  url) echo "mysql://root@127.0.0.1:$(port "${2:?node number}")" ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
