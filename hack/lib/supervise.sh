#!/usr/bin/env bash
# supervise.sh COMMAND...: runs COMMAND and starts it again a second after
# it exits, as the systemd units' Restart=always will. Leader-elected
# components exit when they lose their lease (as upstream's do), which an
# overloaded machine can cause; the local cluster should heal like a real
# one. SIGTERM stops COMMAND and this loop.
child=0
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
while :; do
  "$@" &
  child=$!
  wait "$child"
  rc=$?
  echo ">>> supervise: ${1##*/} exited with status $rc; restarting in 1s"
  sleep 1 &
  wait $!
done
