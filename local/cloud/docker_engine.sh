#!/usr/bin/env bash
# make sam-local-engine: a Docker engine for the `sam local` tier, from Debian's packages. Idempotent:
# an engine that already answers is used as it is; otherwise docker.io is installed (once) and dockerd
# started as this machine allows it: no bridge network and no iptables, so every container runs on
# the host's network (--network host) and all its traffic stays on 127.0.0.1. Also installs
# debootstrap (the stand-in base image is built with it) and makes host.docker.internal, the name
# events/env.json gives this machine, resolve to 127.0.0.1 here too, so the local stack's own worker
# reaches a post-back URL that a `sam local` function queued.
#
# Where no engine can run (not root, no apt, dockerd exits), it says so in one line starting
# "sam-local-engine: skipped" and exits 0: the tier's tests then skip with the same reason.
set -uo pipefail
LOG=/var/log/dockerd-sam-local.log
say() { echo "sam-local-engine: $*"; }
skip() { say "skipped: $*"; exit 0; }

install() {  # Debian packages, by name, with apt's own index
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || return 1
  say "installing ${missing[*]} (Debian packages)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if docker info >/dev/null 2>&1; then
  say "a Docker engine answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
else
  [ "$(id -u)" = 0 ] || skip "no Docker engine answers and installing one needs root"
  install docker.io || skip "docker.io could not be installed from Debian's packages"
  say "starting dockerd (no bridge, no iptables; containers use the host's network); log: $LOG"
  setsid nohup dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false >"$LOG" 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -n 1 "$LOG" 2>/dev/null)"
  say "dockerd $(docker info --format '{{.ServerVersion}}') answers"
fi

if [ "$(id -u)" = 0 ]; then
  install debootstrap || skip "debootstrap could not be installed from Debian's packages"
  if ! getent hosts host.docker.internal >/dev/null; then
    echo "127.0.0.1 host.docker.internal  # sam local: this machine, as containers on its network see it" >>/etc/hosts
    say "host.docker.internal -> 127.0.0.1 added to /etc/hosts"
  fi
fi
exit 0
