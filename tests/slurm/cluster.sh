#!/usr/bin/env bash
# A real single-node Slurm cluster for tests: slurmctld and slurmd on this machine, from Debian's slurm-wlm and munge
# (installed here when missing; that needs root or passwordless sudo). Nothing is assumed to be running, and nothing of the
# machine's own is touched: munged runs with a key and socket of its own, Slurm on ports of its own, all under STATE_DIR.
#   cluster.sh start STATE_DIR   prints `export SLURM_CONF=…` for the client commands (sbatch, squeue) once the node is idle
#   cluster.sh stop STATE_DIR    cancels the cluster's jobs, stops its daemons and waits for them to exit
# A cluster that does not come up fails with the scheduler's own words (the tail of its logs), never a skip.
set -euo pipefail
action="${1:?usage: cluster.sh start|stop STATE_DIR}"
state="$(mkdir -p "${2:?usage: cluster.sh start|stop STATE_DIR}" && cd "$2" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"   # the daemons live in sbin, outside a normal user's PATH
export SLURM_CONF="$state/slurm.conf"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

stop_daemon() {   # by its pid file; waits up to 20 s for it to exit
  local pidfile="$1" pid
  [ -s "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  as_root kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do as_root kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  as_root kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop() {
  if [ -f "$SLURM_CONF" ] && [ -s "$state/slurmctld.pid" ]; then
    squeue -h -o %A 2>/dev/null | sort -u | xargs -r scancel --full 2>/dev/null || true
    for _ in $(seq 1 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
  fi
  stop_daemon "$state/slurmd.pid"
  stop_daemon "$state/slurmctld.pid"
  if [ -s "$state/munge-dir" ]; then
    stop_daemon "$(cat "$state/munge-dir")/munged.pid"
    as_root rm -rf "$(cat "$state/munge-dir")"
  fi
}

start() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "cluster: installing slurm-wlm and munge from apt" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
  fi
  # munged insists on a private key folder and a socket in a folder every user can reach (each folder above it too).
  mkdir -p "$state/munge-key" "$state/ctld" "$state/d"
  chmod 700 "$state/munge-key"
  local sockets
  sockets="$(mktemp -d /tmp/plugingpt-munge.XXXXXX)"; chmod 755 "$sockets"; echo "$sockets" > "$state/munge-dir"
  if [ ! -s "$state/munge-key/munge.key" ]; then
    dd if=/dev/urandom of="$state/munge-key/munge.key" bs=1024 count=1 status=none
    chmod 400 "$state/munge-key/munge.key"
  fi
  as_root munged --key-file="$state/munge-key/munge.key" --socket="$sockets/munge.sock" \
    --pid-file="$sockets/munged.pid" --log-file="$state/munge-key/munged.log" --seed-file="$state/munge-key/munged.seed" >&2 \
    || { tail -n 5 "$state/munge-key/munged.log" >&2; exit 1; }

  local host cpus
  host="$(hostname -s)"; cpus="$(nproc)"
  # No cgroup.conf: 22.05 refuses CgroupPlugin=disabled, and proctrack/linuxproc + task/none need none.
  cat > "$SLURM_CONF" <<CONF
ClusterName=plugingpt-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sockets/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  as_root env SLURM_CONF="$SLURM_CONF" slurmctld -i >&2 || { tail -n 20 "$state/slurmctld.log" >&2; exit 1; }
  as_root env SLURM_CONF="$SLURM_CONF" slurmd >&2 || { tail -n 20 "$state/slurmd.log" >&2; exit 1; }
  for _ in $(seq 1 60); do
    if [ "$(sinfo -h -o %t 2>/dev/null | head -n 1)" = "idle" ]; then echo "export SLURM_CONF=$SLURM_CONF"; return 0; fi
    sleep 1
  done
  echo "cluster: the node did not become idle in 60 s: sinfo says '$(sinfo -h -o '%t %E' 2>&1 | head -n 1)'" >&2
  tail -n 15 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
  exit 1
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
