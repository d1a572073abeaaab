#!/usr/bin/env bash
# Checks that the Dockerfile works. With a container engine: builds the image, runs it and waits
# for its health check. Without one (this project's CI machine has only the docker client):
# runs the Dockerfile's own build command on this machine, then starts the binary as the image
# would (its ENV, an empty data directory, an unprivileged user) and runs the HEALTHCHECK's
# command against it.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build -t rendez-check .
  id=$(docker run -d rendez-check)
  trap 'docker rm -f "$id" >/dev/null' EXIT
  for _ in $(seq 1 60); do
    state=$(docker inspect -f '{{.State.Health.Status}}' "$id")
    [ "$state" = healthy ] && { echo "the image builds and becomes healthy"; exit 0; }
    sleep 2
  done
  echo "the container did not become healthy" >&2
  exit 1
fi

# The build stage's command, read from the Dockerfile (continuation lines joined).
build=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | sed -n 's/^RUN \(cargo build [^&]*\).*/\1/p' | head -1)
[ -n "$build" ] || { echo "no cargo build command in the Dockerfile" >&2; exit 1; }
echo "== $build"
eval "$build"

# The runtime stage: its ENV, with /var/lib/rendez replaced by a fresh directory and the port by
# a free one; run as an unprivileged user, as USER rendez does.
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
envs=()
while read -r pair; do
  pair=${pair//\/var\/lib\/rendez/$data}
  pair=${pair//0.0.0.0:8080/127.0.0.1:$port}
  envs+=("$pair")
done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | sed -n 's/^ENV //p' | tr -s ' ' '\n' | grep '=')
user=$(id -un)
install -m 0755 target/release/rendez "$data/rendez"
if [ "$(id -u)" = 0 ]; then
  user=nobody
  chown "$user" "$data"
fi
health=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | sed -n 's/^HEALTHCHECK .*CMD \(.*\)/\1/p' | sed "s/127.0.0.1:8080/127.0.0.1:$port/")
[ -n "$health" ] || { echo "no HEALTHCHECK in the Dockerfile" >&2; exit 1; }
(cd "$data" && exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
  env -i PATH=/usr/bin:/bin "${envs[@]}" "$data/rendez" serve) >"$data.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 1 60); do
  if sh -c "$health"; then
    [ "$(stat -c %a "$data/rendez.db")" = 600 ] || { echo "the database is not 0600" >&2; exit 1; }
    echo "the Dockerfile's build works here and the binary passes its health check as $user"
    exit 0
  fi
  sleep 1
done
echo "the health check never passed:" >&2
cat "$data.log" >&2
exit 1
