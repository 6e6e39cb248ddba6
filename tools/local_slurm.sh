#!/usr/bin/env bash
# A throwaway single-node SLURM cluster from Debian's packages, for testing `snakemake --profile slurm`
# on a machine without systemd (CI, containers, VMs). Needs root and apt-get.
#
#   tools/local_slurm.sh up       install what is missing, write the configs, start the daemons, run a smoke job
#   tools/local_slurm.sh status   which daemons run (by PID file), sinfo, and whether accounting answers
#   tools/local_slurm.sh down     cancel all jobs, stop every daemon by its PID file (SIGTERM, then SIGKILL),
#                                 and restore the machine's SLURM/munge configuration as `up` found it
#   tools/local_slurm.sh down --purge   also remove the packages `up` installed
#
# `down` leaves no SLURM configuration that `up` wrote: the files it wrote under /etc/slurm are
# removed (or the machine's own versions, saved by `up`, put back). Otherwise `scontrol` would keep
# reading a slurm.conf whose controller is gone, and every later `snakemake` start would idle
# ~10 s: the SLURM executor plugin runs `scontrol show config` (timeout 10 s) when imported, even
# for a local run. Packages stay installed (a later `up` is then fast) unless --purge.
#
# `up` is idempotent: with everything running it only checks; it restarts a daemon only when its
# config file changed. Daemons: munged, MariaDB + slurmdbd (accounting, so `sacct` works: the
# Snakemake SLURM plugin queries job states with sacct by default), slurmctld, slurmd.
# The node is `hostname -s` on 127.0.0.1, with GPUs declared as fake gres (device nodes that are
# /dev/null): jobs asking --gpus=N are scheduled and see CUDA_VISIBLE_DEVICES, but have no GPU.
#
# Settings (environment):
#   LOCAL_SLURM_BASE        state, spool, logs, database (default /var/lib/molrg-local-slurm)
#   LOCAL_SLURM_ACCOUNTING  1 (default): MariaDB + slurmdbd; 0: none (then use slurm-status-command: squeue)
#   LOCAL_SLURM_GPUS        number of fake GPUs on the node (default 2)
#   LOCAL_SLURM_CPUS        CPUs the node declares (default: what slurmd -C detects). More than the
#                           hardware has oversubscribes it on purpose (SlurmdParameters=config_overrides):
#                           the tests' jobs are mostly Python start-up, and on a 2-core machine they
#                           would otherwise queue one behind the other
#   LOCAL_SLURM_PARTITION   the one (default) partition (default debug)
# Only for test machines: the daemons run as root and the accounting database password is a
# constant (MariaDB listens on 127.0.0.1 only). Notes: docs/slurm.md.
set -euo pipefail

BASE=${LOCAL_SLURM_BASE:-/var/lib/molrg-local-slurm}
ACCOUNTING=${LOCAL_SLURM_ACCOUNTING:-1}
GPUS=${LOCAL_SLURM_GPUS:-2}
CPUS=${LOCAL_SLURM_CPUS:-}
PARTITION=${LOCAL_SLURM_PARTITION:-debug}
CLUSTER=molrglocal
NODE=$(hostname -s)
CONF_DIR=/etc/slurm
DB_SOCKET=/run/mysqld/mysqld.sock
DB_PASSWORD=molrg-local-slurm # loopback-only test database, see header

# PID files: each daemon is started, checked and stopped only through these.
PID_MUNGE=/run/munge/munged.pid
PID_DB=$BASE/mysql-run/mariadb.pid
PID_DBD=$BASE/run/slurmdbd.pid
PID_CTLD=$BASE/run/slurmctld.pid
PID_SLURMD=$BASE/run/slurmd.pid

# What `up` changed on the machine, so that `down` can undo it.
WRITTEN=$BASE/written_files         # files `up` created or replaced, one path a line
ORIGINALS=$BASE/originals           # the machine's own versions of the files it replaced
INSTALLED=$BASE/installed_packages  # packages `up` installed

log() { echo "local_slurm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

alive() { # alive PIDFILE: the process named in PIDFILE exists
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s until COMMAND succeeds
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timed out after ${limit}s waiting for $what (logs: $BASE/log)"
    sleep 0.2
  done
}

# remember_file PATH: record that `up` writes PATH; a version the machine had is saved first.
remember_file() {
  mkdir -p "$ORIGINALS"
  grep -qxF "$1" "$WRITTEN" 2>/dev/null && return 0
  # a file an earlier `up` wrote (our header) is not the machine's own: nothing to save
  if [ -e "$1" ] && ! grep -qs "Written by tools/local_slurm.sh" "$1"; then
    cp -a "$1" "$ORIGINALS/$(echo "$1" | tr / %)"
  fi
  echo "$1" >>"$WRITTEN"
}

# write_file PATH MODE: stdin to PATH if the content differs; returns 0 when it changed.
write_file() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; remember_file "$1"; return 1; fi
  remember_file "$1"
  install -m "$2" "$tmp" "$1"
  rm -f "$tmp"
  return 0
}

# restore_files: every file `up` wrote is removed, or the machine's own version put back.
restore_files() {
  [ -s "$WRITTEN" ] || return 0
  local f saved
  while read -r f; do
    saved="$ORIGINALS/$(echo "$f" | tr / %)"
    if [ -e "$saved" ]; then mv -f "$saved" "$f"; log "restored $f"; else rm -f "$f"; log "removed $f"; fi
  done <"$WRITTEN"
  rm -f "$WRITTEN"
  rmdir "$CONF_DIR" 2>/dev/null || true # only if `up` left it empty
}

packages() {
  echo munge slurm-client slurmctld slurmd
  [ "$ACCOUNTING" = 1 ] && echo slurmdbd mariadb-server
  return 0
}

install_packages() {
  local missing=() p
  for p in $(packages); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  printf '%s\n' "${missing[@]}" >>"$INSTALLED"
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: Recommends pull in ~100 packages (and a perl upgrade) we do not need.
  # Package lists may be stale or empty: update once, only when the install fails.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$BASE/log/apt.log" 2>&1 || {
    apt-get update -qq >>"$BASE/log/apt.log" 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$BASE/log/apt.log" 2>&1 \
      || die "apt-get install ${missing[*]} failed, see $BASE/log/apt.log"
  }
}

# ---------------------------------------------------------------------------------------------
# Configuration files. Each write_* returns 0 when the file changed (so a running daemon restarts).

node_line() {
  # slurmd -C reports the hardware; RealMemory must not exceed it (else the node is INVALID), so
  # declare 90 %. Gres: one fake GPU per line of gres.conf.
  local hw mem
  hw=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  hw=$(sed 's/ *RealMemory=[0-9]*//' <<<"$hw")
  if [ -n "$CPUS" ]; then  # declared, not detected: one socket of $CPUS one-thread cores
    hw="CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1"
  fi
  local gres=""
  [ "$GPUS" -gt 0 ] && gres=" Gres=gpu:$GPUS"
  echo "NodeName=$NODE NodeAddr=127.0.0.1 $hw RealMemory=$((mem * 9 / 10))$gres State=UNKNOWN"
}

write_slurm_conf() {
  local acct="AccountingStorageType=accounting_storage/none"
  if [ "$ACCOUNTING" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux"
  fi
  write_file "$CONF_DIR/slurm.conf" 644 <<EOF
# Written by tools/local_slurm.sh: single-node test cluster, no cgroups, no systemd.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$PID_CTLD
SlurmdPidFile=$PID_SLURMD
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
# linuxproc/none: no cgroup v2 delegation needed (containers, VMs without systemd)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# finished jobs stay visible to squeue for 300 s: the plugin's squeue mode needs >= 3 x its first delay
MinJobAge=300
# without it, a job that asks no memory would get the whole node
DefMemPerCPU=1000
GresTypes=gpu
${CPUS:+SlurmdParameters=config_overrides # LOCAL_SLURM_CPUS=$CPUS declared, see the header}
$acct
$(node_line)
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

write_gres_conf() {
  # A gpu gres needs a device file (without File= it is silently ignored and the node goes INVAL),
  # and each GPU its own one: character devices with /dev/null's numbers, one per fake GPU.
  local i lines=""
  mkdir -p "$BASE/dev"
  for ((i = 0; i < GPUS; i++)); do
    [ -c "$BASE/dev/gpu$i" ] || mknod "$BASE/dev/gpu$i" c 1 3 || die "mknod $BASE/dev/gpu$i failed"
    lines+="NodeName=$NODE Name=gpu File=$BASE/dev/gpu$i"$'\n'
  done
  printf '# Written by tools/local_slurm.sh: fake GPUs\n%s' "$lines" | write_file "$CONF_DIR/gres.conf" 644
}

write_slurmdbd_conf() {
  write_file "$CONF_DIR/slurmdbd.conf" 600 <<EOF
# Written by tools/local_slurm.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$PID_DBD
LogFile=$BASE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASSWORD
StorageLoc=slurm_acct_db
EOF
}

# ---------------------------------------------------------------------------------------------
# Daemons

start_munge() {
  alive "$PID_MUNGE" && return 0
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    remember_file /etc/munge/munge.key
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged --pid-file="$PID_MUNGE"
  wait_for 10 munged bash -c "munge -n | unmunge"
}

db_query() { mariadb --protocol=socket --socket="$DB_SOCKET" -u root -e "$1"; }

start_mariadb() {
  install -d -o mysql -g mysql -m 750 "$BASE/mysql" "$BASE/mysql-run"
  install -d -o mysql -g mysql -m 755 /run/mysqld
  if ! alive "$PID_DB"; then
    if [ ! -d "$BASE/mysql/mysql" ]; then
      mariadb-install-db --user=mysql --datadir="$BASE/mysql" --skip-test-db \
        --auth-root-authentication-method=socket >"$BASE/log/mariadb-install.log" 2>&1 \
        || die "mariadb-install-db failed, see $BASE/log/mariadb-install.log"
    fi
    # mariadbd runs as mysql: its pid file and log live in the mysql-owned directory.
    setsid mariadbd --no-defaults --user=mysql --datadir="$BASE/mysql" --socket="$DB_SOCKET" \
      --pid-file="$PID_DB" --log-error="$BASE/mysql-run/error.log" \
      --bind-address=127.0.0.1 --port=3306 </dev/null >/dev/null 2>&1 &
    wait_for 30 MariaDB db_query "SELECT 1"
  fi
  db_query "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

start_slurmdbd() {
  alive "$PID_DBD" || slurmdbd || die "slurmdbd did not start: $(tail -n 3 "$BASE/log/slurmdbd.log")"
  wait_for 30 slurmdbd sacctmgr -n list cluster
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" \
    || sacctmgr -i add cluster "$CLUSTER" >/dev/null
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n 1; }

start_slurm() {
  alive "$PID_CTLD" || slurmctld || die "slurmctld did not start: $(tail -n 3 "$BASE/log/slurmctld.log")"
  wait_for 20 slurmctld bash -c "scontrol ping | grep -q 'is UP'"
  alive "$PID_SLURMD" || slurmd || die "slurmd did not start: $(tail -n 3 "$BASE/log/slurmd.log")"
  wait_for 20 "node $NODE to register" bash -c "[ -n \"\$(sinfo -h -n $NODE -o %t)\" ] && ! sinfo -h -n $NODE -o %t | grep -q 'unk\|\*'"
  case "$(node_state)" in
    idle | mix | alloc | comp) ;;
    *) # left DOWN/DRAINED/INVAL by an earlier config: it is fine now, put it back into service
      scontrol update nodename="$NODE" state=resume 2>/dev/null || true
      ;;
  esac
  wait_for 20 "node $NODE to be idle (state: $(node_state); see $BASE/log/slurmd.log)" \
    bash -c "sinfo -h -n $NODE -o %t | grep -qE '^(idle|mix|alloc)$'"
}

stop_pidfiles() { # stop_pidfiles NAME=PIDFILE...: SIGTERM to all, wait up to 30 s, then SIGKILL
  local pair name file pid i names=() pids=()
  for pair in "$@"; do
    name=${pair%%=*}; file=${pair#*=}
    if alive "$file"; then
      pid=$(cat "$file"); kill -TERM "$pid" 2>/dev/null || true
      names+=("$name"); pids+=("$pid")
    fi
    rm -f "$file"
  done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    local n=0
    while kill -0 "${pids[i]}" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
    if kill -0 "${pids[i]}" 2>/dev/null; then
      log "${names[i]} (pid ${pids[i]}) ignored SIGTERM for 30 s, sending SIGKILL"
      kill -KILL "${pids[i]}" 2>/dev/null || true
    fi
    log "stopped ${names[i]} (pid ${pids[i]})"
  done
}

smoke_test() {
  # One job through the whole chain (srun -> slurmctld -> slurmd -> job), with a GPU if any; with
  # accounting, it must also show up in sacct as COMPLETED. (srun returns as soon as the job ends;
  # `sbatch --wait` polls and costs 10 s here.)
  local gpu_opt=() check="true" id
  if [ "$GPUS" -gt 0 ]; then gpu_opt=(--gpus=1); check='test -n "$CUDA_VISIBLE_DEVICES"'; fi
  id=$(timeout 60 srun -N 1 -n 1 -t 1 --mem=50 "${gpu_opt[@]}" bash -c "echo \$SLURM_JOB_ID; $check") \
    || die "smoke job failed (logs: $BASE/log)"
  if [ "$ACCOUNTING" = 1 ]; then
    wait_for 20 "sacct to report job $id COMPLETED" \
      bash -c "sacct -n -X -P -j $id -o State | grep -qx COMPLETED"
  fi
  log "smoke job $id completed"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts daemons)"
  local t0=$SECONDS
  mkdir -p "$BASE"/{state,spool,run,log} "$CONF_DIR"
  install_packages
  local restart_ctld=0 restart_dbd=0
  write_slurm_conf && restart_ctld=1
  write_gres_conf && restart_ctld=1
  if [ "$ACCOUNTING" = 1 ]; then write_slurmdbd_conf && restart_dbd=1; fi
  if [ $restart_dbd = 1 ]; then stop_pidfiles slurmdbd="$PID_DBD"; fi
  if [ $restart_ctld = 1 ] && { alive "$PID_CTLD" || alive "$PID_SLURMD"; }; then
    log "configuration changed: restarting slurmctld and slurmd"
    stop_pidfiles slurmd="$PID_SLURMD" slurmctld="$PID_CTLD"
  fi
  start_munge
  if [ "$ACCOUNTING" = 1 ]; then start_mariadb; start_slurmdbd; fi
  local was_up=0
  alive "$PID_CTLD" && alive "$PID_SLURMD" && was_up=1
  start_slurm
  [ $was_up = 1 ] || smoke_test
  log "up in $((SECONDS - t0)) s: cluster $CLUSTER, node $NODE, partition $PARTITION, $GPUS fake GPU(s), accounting=$ACCOUNTING"
}

cmd_down() {
  if alive "$PID_CTLD"; then
    # jobs left over from an interrupted run would otherwise outlive their slurmd
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
  fi
  # in dependency order, each stage in parallel: SLURM, then accounting, then its database and munge
  stop_pidfiles slurmd="$PID_SLURMD" slurmctld="$PID_CTLD"
  stop_pidfiles slurmdbd="$PID_DBD"
  stop_pidfiles mariadb="$PID_DB" munged="$PID_MUNGE"
  restore_files
  if [ "${1:-}" = --purge ] && [ -s "$INSTALLED" ]; then
    log "removing the packages up installed: $(sort -u "$INSTALLED" | tr '\n' ' ')"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq $(sort -u "$INSTALLED") >"$BASE/log/apt-remove.log" 2>&1 \
      || log "apt-get remove failed, see $BASE/log/apt-remove.log"
    rm -f "$INSTALLED"
  fi
}

cmd_status() {
  local ok=0 pair name file
  for pair in munged:$PID_MUNGE mariadb:$PID_DB slurmdbd:$PID_DBD slurmctld:$PID_CTLD slurmd:$PID_SLURMD; do
    name=${pair%%:*}; file=${pair#*:}
    if alive "$file"; then
      echo "$name: running (pid $(cat "$file"))"
    else
      echo "$name: stopped"
      case $name in mariadb | slurmdbd) [ "$ACCOUNTING" = 1 ] && ok=1 ;; *) ok=1 ;; esac
    fi
  done
  if alive "$PID_CTLD"; then
    sinfo -N -o "%N %P %t %c %m %G" || true
    if sacct -n -X -S now >/dev/null 2>&1; then echo "accounting: sacct answers"; else echo "accounting: sacct does not answer"; fi
  fi
  return $ok
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down [--purge]|status" >&2; exit 2 ;;
esac
