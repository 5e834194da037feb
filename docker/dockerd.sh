#!/usr/bin/env bash
# Start dockerd in the background if no daemon answers, or stop the one this script started.
#
#   docker/dockerd.sh start   # idempotent; log in .cache/dockerd.log
#   docker/dockerd.sh stop    # only stops a daemon whose pid file this script wrote
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

state=${LOWBIT_CACHE:-$(cd "$here/.." && pwd)/.cache}
pidfile=$state/dockerd.pid
logfile=$state/dockerd.log

daemon_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-start}" in
start)
  ensure_host_pkgs dockerd:docker.io docker:docker.io
  if daemon_up; then log "docker daemon already running"; exit 0; fi
  need_root "starting dockerd"
  mkdir -p "$state"
  log "starting dockerd (log: $logfile)"
  # setsid: the daemon must not die with the make recipe's process group.
  setsid dockerd >"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 60); do
    daemon_up && { log "dockerd up (pid $(cat "$pidfile"))"; exit 0; }
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 1
  done
  tail -20 "$logfile" >&2
  die "dockerd did not come up"
  ;;
stop)
  [ -f "$pidfile" ] || { log "dockerd was not started by this script: left running"; exit 0; }
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd (pid $pid)"
    kill "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
    die "dockerd (pid $pid) did not stop"
  fi
  ;;
*) die "usage: $0 start|stop" ;;
esac
