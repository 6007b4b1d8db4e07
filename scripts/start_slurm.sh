#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (munge, slurmctld, slurmd on localhost),
# for the cluster tests, the cluster benchmark and trying the Slurm backend by hand.
#
#   bash scripts/start_slurm.sh          # install (Debian slurm-wlm + munge) if missing, start; idempotent
#   bash scripts/start_slurm.sh --stop   # stop the daemons this script started
#
# Needs root (apt-get, daemons run as root). Writes /etc/slurm/slurm.conf only when there is
# none or it is one this script wrote (marked); state, spool and logs live in $LAOM_SLURM_DIR
# (default /tmp/laom-slurm). No cgroups: proctrack/linuxproc, task/none.
set -euo pipefail
DIR=${LAOM_SLURM_DIR:-/tmp/laom-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by laom-studio scripts/start_slurm.sh"

if [[ "${1:-}" == "--stop" ]]; then
    for name in slurmd slurmctld; do
        if [[ -f "$DIR/$name.pid" ]]; then kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true; fi
    done
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; }
fi

PY=${PYTHON:-python3}
if ! "$PY" -c "import submitit" >/dev/null 2>&1; then
    echo "installing submitit (pip)" >&2
    "$PY" -m pip install -q --disable-pip-version-check submitit
fi

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge

# munge: a key, then the daemon (as root: --force; its socket is local only)
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chmod 400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1 </dev/null; then
    chown -R root:root /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    munged --force
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 </dev/null && break; sleep 0.1; done
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
if [[ -f "$CONF" ]] && ! grep -qF "$MARK" "$CONF"; then
    echo "error: $CONF exists and was not written by this script; not touching a real cluster's configuration" >&2
    exit 2
fi
NEW=$(mktemp)
cat >"$NEW" <<EOF
$MARK
ClusterName=laom
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=300
KillWait=10
MaxArraySize=10001
MaxJobCount=20000
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
if ! cmp -s "$NEW" "$CONF" 2>/dev/null; then mv "$NEW" "$CONF"; else rm -f "$NEW"; fi
chmod 644 "$CONF"

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
alive slurmctld || slurmctld
alive slurmd || slurmd

for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "slurm up: node $HOST, $CPUS CPUs, partition debug"
        exit 0
    fi
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 0.3
done
echo "error: slurm did not come up; see $DIR/log/" >&2
sinfo >&2 || true
exit 1
