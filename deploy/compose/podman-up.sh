#!/usr/bin/env bash
# Sets this machine up to run docker-compose.yml with podman instead of a Docker engine, and builds
# the images (deploy/compose/images.sh). Idempotent: run it again after rebuilding batond.
#   1. Debian packages podman, runc, catatonit (for `init: true`), docker-compose (1.29),
#      busybox-static, and what images.sh stages (--no-install-recommends);
#   2. podman with runc and the ulimits of deploy/compose/containers.conf (CONTAINERS_CONF);
#   3. `podman system service` on unix:///run/podman/podman.sock, started once in the background
#      (log /run/podman/service.log), for docker-compose through DOCKER_HOST;
#   4. a test CA and certificates for m1, m2, m3 in deploy/compose/certs, unless there;
#   5. localhost/baton-base and localhost/baton from BUILD_DIR (default build/).
# Usage (root): deploy/compose/podman-up.sh [BUILD_DIR]; then, in the shell that runs compose:
#   export DOCKER_HOST=unix:///run/podman/podman.sock
#   export CONTAINERS_CONF=$PWD/deploy/compose/containers.conf BUILDAH_RUNTIME=runc
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "podman-up.sh: run as root" >&2; exit 1; }

need=()
for p in podman runc catatonit docker-compose busybox-static iproute2 ethtool curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

export CONTAINERS_CONF="$here/containers.conf" BUILDAH_RUNTIME=runc
sock=/run/podman/podman.sock
export DOCKER_HOST="unix://$sock"
mkdir -p /run/podman
# A service started for another containers.conf (another clone, or this path removed and made
# again) answers pings but fails every compose start ("write child: broken pipe", measured): it
# is replaced. service.id names the file (path and inode) the running service was started with.
id="$CONTAINERS_CONF $(stat -c '%d:%i' "$CONTAINERS_CONF")"
if [ -f /run/podman/service.id ] && [ "$(cat /run/podman/service.id)" != "$id" ] ||
   { [ ! -f /run/podman/service.id ] && pgrep -f "podman system service" >/dev/null; }; then
  echo "podman-up.sh: restarting podman system service (started for another containers.conf)"
  pkill -f "podman system service" || true
  for _ in $(seq 50); do pgrep -f "podman system service" >/dev/null || break; sleep 0.1; done
  rm -f "$sock"
fi
if ! curl -fsS --max-time 5 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
  echo "$id" > /run/podman/service.id
  # Its own session, so it outlives this script and the shell that ran it.
  setsid podman system service --time=0 "unix://$sock" </dev/null >>/run/podman/service.log 2>&1 &
  for _ in $(seq 100); do
    curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --max-time 5 --unix-socket "$sock" http://d/_ping >/dev/null \
    || { echo "podman-up.sh: podman system service did not answer on $sock" \
              "(see /run/podman/service.log)" >&2; exit 1; }
fi
# Compose checks the runtime podman will use; a podman started before CONTAINERS_CONF was set
# would use crun and fail on the first container.
rt="$(podman info --format '{{.Host.OCIRuntime.Name}}')"
[ "$rt" = runc ] || { echo "podman-up.sh: podman's runtime is $rt, not runc" >&2; exit 1; }

# The cluster members' certificates (docker-compose.yml mounts ${BATON_CERTS:-deploy/compose/certs}).
[ -f "$here/certs/m3.pem" ] || "$repo/deploy/make-certs.sh" "$here/certs" m1 m2 m3 >/dev/null
bash "$here/images.sh" podman "${1:-$repo/build}"
echo "podman-up.sh: ready; export DOCKER_HOST=$DOCKER_HOST CONTAINERS_CONF=$CONTAINERS_CONF" \
     "BUILDAH_RUNTIME=runc"
