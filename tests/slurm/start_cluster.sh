#!/usr/bin/env bash
# Start (or reuse) a real single-node Slurm cluster on this machine for the fleet tests (tests/test_fleet.py).
#
#   sudo tests/slurm/start_cluster.sh        # idempotent: a cluster this script started and that still runs is reused
#
# What it does, as root, on Debian/Ubuntu:
#   1. installs slurm-wlm and munge with apt-get when slurmctld/slurmd/sbatch are missing (non-interactive);
#   2. creates a munge key when there is none and starts munged (as the munge user);
#   3. writes /etc/slurm/slurm.conf: select/cons_tres, proctrack/linuxproc (cgroups may not work in a container),
#      no accounting database (so no sacct, like many small clusters), the node line from `slurmd -C`, and two
#      partitions over the same node (wb-a, wb-b) so a sweep over two partitions can be exercised;
#   4. starts slurmctld and slurmd directly (no systemd needed) and waits until `sinfo` shows the node idle.
#
# It never touches a Slurm configuration it did not write (one without the marker line below): then it exits 3.
# Exit codes: 0 the cluster is up (last line: "partitions: wb-a,wb-b"); 3 cannot start one here (one line says why,
# e.g. not root, no apt-get); 1 something failed while starting (the daemons' logs are in /var/log/slurm).
set -euo pipefail

MARKER="# written by inference-workbench tests/slurm/start_cluster.sh"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
PARTITIONS="wb-a,wb-b"
WAIT_S=${WB_SLURM_WAIT_S:-60}

say() { echo "start_cluster: $*" >&2; }
cannot() { echo "start_cluster: cannot start a local Slurm here: $*" >&2; exit 3; }
fail() { echo "start_cluster: $*" >&2; exit 1; }

alive() { # pidfile -> 0 when the process it names runs
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() { sinfo -h -N -o "%t" 2>/dev/null | head -n 1 || true; }

cluster_up() {
    [[ -f "$CONF" ]] && grep -qF "$MARKER" "$CONF" || return 1
    alive /run/slurmctld.pid && alive /run/slurmd.pid || return 1
    case "$(node_state)" in idle | mix | alloc | comp | idle~ | mix- | alloc-) return 0 ;; *) return 1 ;; esac
}

# ---------------------------------------------------------------------------------------------------- reuse
if command -v sinfo >/dev/null 2>&1 && cluster_up; then
    say "reusing the running cluster ($(sinfo -h -N -o '%N %t' | head -n 1))"
    echo "partitions: $PARTITIONS"
    exit 0
fi

[[ "$(id -u)" == 0 ]] || cannot "not root (run as root, or install slurm-wlm and munge and start a cluster yourself)"
if [[ -f "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
    cannot "$CONF exists and was not written by this script; not touching a real cluster's configuration"
fi

# ---------------------------------------------------------------------------------------------------- install
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1 \
    || ! command -v munged >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || cannot "no apt-get: install slurm-wlm and munge with this system's package manager"
    say "installing slurm-wlm and munge with apt-get (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the install with the current package lists"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/tmp/start_cluster-apt.log 2>&1 \
        || cannot "apt-get install slurm-wlm munge failed (see /tmp/start_cluster-apt.log)"
fi

# ---------------------------------------------------------------------------------------------------- munge
KEY=/etc/munge/munge.key
if [[ ! -s "$KEY" ]]; then
    say "creating a munge key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$KEY" --force >/dev/null
    else
        dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
    fi
fi
chown munge:munge "$KEY" 2>/dev/null || true
chmod 0400 "$KEY"
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge 2>/dev/null || true
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    rm -f /run/munge/munge.socket.2.lock
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged || fail "munged did not start (see /var/log/munge/munged.log)"
    else
        /usr/sbin/munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
    fi
    for _ in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null 2>&1 || fail "munge does not answer after starting munged"
fi

# ---------------------------------------------------------------------------------------------------- slurm.conf
HOST=$(hostname -s)
NODE_LINE=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1) || true
[[ -n "$NODE_LINE" ]] || fail "slurmd -C printed no NodeName line"
NODE_NAME=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$NODE_LINE")
mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
NEW_CONF=$(
    cat <<EOF
$MARKER
# A single-node test cluster: one node ($NODE_NAME, the line from \`slurmd -C\`), two partitions over it.
ClusterName=wbtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to scontrol for 10 minutes (there is no accounting database to ask later)
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=wb-a Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
PartitionName=wb-b Nodes=$NODE_NAME MaxTime=INFINITE State=UP
EOF
)
if [[ ! -f "$CONF" ]] || [[ "$(cat "$CONF")" != "$NEW_CONF" ]]; then
    printf '%s\n' "$NEW_CONF" >"$CONF"
    # the daemons re-read it on restart
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if alive "$pidfile"; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    done
    sleep 1
fi

# ---------------------------------------------------------------------------------------------------- daemons
if ! alive /run/slurmctld.pid; then
    say "starting slurmctld"
    /usr/sbin/slurmctld -i || fail "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
fi
for _ in $(seq 1 100); do
    scontrol ping 2>/dev/null | grep -q 'is UP' && break
    sleep 0.2
done
scontrol ping 2>/dev/null | grep -q 'is UP' || fail "slurmctld does not answer (see $LOG_DIR/slurmctld.log)"
if ! alive /run/slurmd.pid; then
    say "starting slurmd"
    /usr/sbin/slurmd || fail "slurmd did not start (see $LOG_DIR/slurmd.log)"
fi

deadline=$((SECONDS + WAIT_S))
while ((SECONDS < deadline)); do
    state=$(node_state)
    case "$state" in
    idle | mix | alloc | comp) break ;;
    drain | drng | down | down~ | fail | "down*" | "drain*")
        scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true
        ;;
    esac
    sleep 0.5
done
state=$(node_state)
case "$state" in
idle | mix | alloc | comp) ;;
*) fail "node $NODE_NAME is '$state', not idle, after ${WAIT_S}s (see $LOG_DIR/slurmd.log and $LOG_DIR/slurmctld.log)" ;;
esac
say "cluster up: $(sinfo -h -o '%P %a %D %t %N' | tr '\n' ';')"
echo "partitions: $PARTITIONS"
