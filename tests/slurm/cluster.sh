#!/usr/bin/env bash
# A real single-node Slurm cluster for tests: slurmctld and slurmd on this machine, from Debian's slurm-wlm and munge
# (installed here when missing; that needs root or passwordless sudo). Nothing is assumed to be running.
#   cluster.sh start STATE_DIR   installs if needed, starts munged (unless one answers) and both Slurm daemons on their own
#                                ports with their own config in STATE_DIR; prints `export SLURM_CONF=…` for the client commands
#   cluster.sh stop STATE_DIR    stops what start started (by pid)
# A cluster that does not come up fails with the scheduler's own words (the tail of its logs), never a skip.
set -euo pipefail
action="${1:?usage: cluster.sh start|stop STATE_DIR}"
state="$(mkdir -p "${2:?usage: cluster.sh start|stop STATE_DIR}" && cd "$2" && pwd)"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

stop() {
  for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/munged.pid"; do
    if [ -s "$pidfile" ]; then as_root kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
}

start() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "cluster: installing slurm-wlm and munge from apt" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
  fi
  # munge: Slurm's authentication. Use the machine's daemon if one answers; else start one with a key of our own.
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
      as_root mkdir -p /etc/munge
      as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    as_root chown munge:munge /etc/munge/munge.key && as_root chmod 400 /etc/munge/munge.key
    as_root mkdir -p /run/munge /var/log/munge /var/lib/munge
    as_root chown munge:munge /run/munge /var/log/munge /var/lib/munge
    as_root runuser -u munge -- munged >&2 || as_root munged --force >&2
    pgrep -x -n munged > "$state/munged.pid"
  fi

  local host cpus
  host="$(hostname -s)"; cpus="$(nproc)"
  mkdir -p "$state/ctld" "$state/d"
  # Own ports, so a machine that already runs Slurm is not disturbed; no cgroup.conf (22.05 refuses CgroupPlugin=disabled).
  cat > "$state/slurm.conf" <<CONF
ClusterName=plugingpt-test
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=$(id -un)
AuthType=auth/munge
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
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$state/slurm.conf"
  as_root env SLURM_CONF="$SLURM_CONF" slurmctld -i || { tail -n 20 "$state/slurmctld.log" >&2; exit 1; }
  as_root env SLURM_CONF="$SLURM_CONF" slurmd || { tail -n 20 "$state/slurmd.log" >&2; exit 1; }
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
