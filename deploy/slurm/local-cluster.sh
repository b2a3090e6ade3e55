#!/usr/bin/env bash
# A throw-away single-node Slurm cluster (munge + slurmctld + slurmd) for
# testing kvsim's sharded runs: `.ci/run` uses it; so can you, as root on a
# Debian or Ubuntu machine without systemd.
#
#   source deploy/slurm/local-cluster.sh
#   cluster_install        # apt packages: slurmctld slurmd slurm-client munge
#   cluster_start          # daemons up, node idle; exports SLURM_CONF
#   cluster_wait JOBID     # until the job (array) has left the queue
#   cluster_stop           # cancels what is left, stops only what we started
#
# Everything lives under $KVSIM_SLURM_DIR (default /tmp/kvsim-slurm); the
# configuration is written there, not to /etc. Controller and node are both
# called `localhost` at 127.0.0.1, so nothing depends on the host's name;
# the node's CPUs and memory come from `slurmd -C` (a node configured with
# more memory than it has is marked invalid and runs nothing). No cgroups,
# no accounting database: job states are read from `scontrol`, which keeps
# finished jobs for 300 s.

KVSIM_SLURM_DIR=${KVSIM_SLURM_DIR:-/tmp/kvsim-slurm}

_cluster_log() { printf '[cluster] %s\n' "$*" >&2; }

cluster_install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
     command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  local attempt
  for attempt in 1 2 3; do
    if apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         slurmctld slurmd slurm-client munge >/dev/null; then
      return 0
    fi
    _cluster_log "apt-get failed (attempt $attempt); retrying"
    sleep $((attempt * 10))
  done
  _cluster_log "could not install Slurm"
  return 1
}

cluster_start() {
  local d=$KVSIM_SLURM_DIR
  rm -rf "$d"
  mkdir -p "$d"/{etc,state,spool,log,pids}
  # munged needs its socket directory; without systemd nobody creates it.
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    _cluster_log "munged already answers: using it (and leaving it running)"
  else
    # munged refuses to run as root; setpriv execs, so $! is munged itself.
    setpriv --reuid=munge --regid=munge --init-groups munged -F \
      >"$d/log/munged.out" 2>&1 &
    echo $! >"$d/pids/munged"
    local i
    for i in $(seq 50); do
      munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  local node
  node=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]* //; s/ UpTime=.*//')
  cat >"$d/etc/slurm.conf" <<CONF
ClusterName=kvsim
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/state/slurmctld.pid
SlurmdPidFile=$d/spool/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/etc/slurm.conf
  slurmctld -D -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
  echo $! >"$d/pids/slurmctld"
  slurmd -D -N localhost -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1 &
  echo $! >"$d/pids/slurmd"
  local n
  for n in $(seq 300); do
    [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && {
      _cluster_log "node idle after $((n / 10)).$((n % 10)) s"
      return 0
    }
    sleep 0.1
  done
  _cluster_log "node never became idle; logs in $d/log"
  tail -n 20 "$d"/log/*.log >&2 || true
  return 1
}

# Waits until JOBID (and, for an array, every task) has left the queue.
# `sbatch --wait` would do, but it polls after 2 s, 8 s and then every 32 s.
cluster_wait() {
  while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do sleep 0.5; done
}

# Prints `task exit-code state` for each task of JOBID, from scontrol.
cluster_states() {
  scontrol -o show job "$1" 2>/dev/null |
    sed -n 's/.*ArrayTaskId=\([0-9]*\).* JobState=\([A-Z_]*\).* ExitCode=\([0-9:]*\).*/\1 \3 \2/p'
}

cluster_stop() {
  local d=$KVSIM_SLURM_DIR i
  if [ -f "$d/pids/slurmctld" ] && kill -0 "$(cat "$d/pids/slurmctld")" 2>/dev/null; then
    scancel --user="$(id -un)" 2>/dev/null || true
    for i in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  # Each job step's slurmstepd outlives slurmd if slurmd goes first; each
  # holds a socket in the spool directory until it exits.
  for i in $(seq 100); do
    compgen -G "$d/spool/localhost_*" >/dev/null || break
    sleep 0.1
  done
  local p
  for p in slurmd slurmctld munged; do
    [ -f "$d/pids/$p" ] || continue
    kill "$(cat "$d/pids/$p")" 2>/dev/null || true
  done
  for p in slurmd slurmctld munged; do
    [ -f "$d/pids/$p" ] || continue
    for i in $(seq 100); do kill -0 "$(cat "$d/pids/$p")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$d/pids/$p"
  done
}
