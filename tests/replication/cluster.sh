#!/bin/sh
# A throw-away MariaDB replication cluster on this machine, for the tests: one primary and
# replicas using GTID, each with a private datadir and socket, listening on 127.0.0.1 only (the
# replicas reach the primary over TCP). Used by tests/replicas.rs and tests/e2e/test_exim.py.
#
#   cluster.sh DIR up N WATCH_PID   primary + N replicas; prints NAME SOCKET PORT per server.
#                                   The servers stop by themselves when WATCH_PID exits.
#   cluster.sh DIR kill NAME        SIGKILL (a crash)      cluster.sh DIR start NAME  start it again
#   cluster.sh DIR stop NAME        SIGSTOP (a hung host)  cluster.sh DIR cont NAME   SIGCONT
#   cluster.sh DIR sql NAME SQL     run SQL as root on that server
#   cluster.sh DIR down             stop every server
#
# NAME is primary, replica1, replica2, ... A missing MariaDB is an error naming the package.
set -eu
dir=$1; cmd=$2; shift 2

find_prog() {
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return; }
    done
    echo "cluster.sh: $1 not found: install it with apt-get install mariadb-server mariadb-client" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sql() {
    "$(find_prog mariadb)" --no-defaults -N -B -uroot --socket="$dir/$1/sock" -e "$2"
}

start() {
    name=$1; d=$dir/$name
    sid=$(cat "$d/server-id"); port=$(cat "$d/port"); watch=$(cat "$dir/watch-pid")
    rm -f "$d/sock" "$d/pid"
    # The loop ties the server's life to the watched process (the test): when it is gone, so is
    # the server, whatever way the test ended.
    nohup sh -c "
        '$(find_prog mariadbd)' --no-defaults --datadir='$d/data' --socket='$d/sock' \
            --pid-file='$d/pid' --port=$port --bind-address=127.0.0.1 --user=root \
            --log-error='$d/err' --server-id=$sid --log-bin=binlog --binlog-format=ROW \
            --log-slave-updates --skip-name-resolve --innodb-buffer-pool-size=32M \
            --innodb-log-file-size=16M --max-connections=200 --slave-net-timeout=5 &
        pid=\$!; echo \$pid > '$d/mariadbd.pid'
        while kill -0 $watch 2>/dev/null && kill -0 \$pid 2>/dev/null; do sleep 1; done
        kill -CONT \$pid 2>/dev/null; kill \$pid 2>/dev/null; wait \$pid" >/dev/null 2>&1 &
    tries=0
    until [ -S "$d/sock" ] && sql "$name" "SELECT 1" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -lt 600 ] || { echo "cluster.sh: $name did not start; see $d/err" >&2; exit 1; }
        sleep 0.1
    done
}

signal() {
    kill "-$1" "$(cat "$dir/$2/mariadbd.pid")"
    if [ "$1" = KILL ]; then
        while kill -0 "$(cat "$dir/$2/mariadbd.pid")" 2>/dev/null; do sleep 0.05; done
    fi
}

up() {
    replicas=$1; echo "$2" > "$dir/watch-pid"
    template=$dir/template
    "$(find_prog mariadb-install-db)" --no-defaults --user=root --auth-root-authentication-method=normal \
        --skip-test-db --datadir="$template" >"$dir/install.log" 2>&1 \
        || { cat "$dir/install.log" >&2; exit 1; }
    names=primary; i=1
    while [ $i -le "$replicas" ]; do names="$names replica$i"; i=$((i + 1)); done
    id=1
    for name in $names; do
        mkdir -p "$dir/$name"; cp -a "$template" "$dir/$name/data"
        echo $id > "$dir/$name/server-id"; free_port > "$dir/$name/port"; id=$((id + 1))
        start "$name"
    done
    sql primary "CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'repl';
                 GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'"
    for name in $names; do
        [ "$name" = primary ] && continue
        sql "$name" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(cat "$dir/primary/port"),
                     MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos,
                     MASTER_CONNECT_RETRY=1; START SLAVE"
    done
    for name in $names; do
        echo "$name $dir/$name/sock $(cat "$dir/$name/port")"
    done
}

case $cmd in
    up) up "$@" ;;
    kill) signal KILL "$1" ;;
    stop) signal STOP "$1" ;;
    cont) signal CONT "$1" ;;
    start) start "$1" ;;
    sql) sql "$1" "$2" ;;
    down) for p in "$dir"/*/mariadbd.pid; do
              [ -f "$p" ] && { kill -CONT "$(cat "$p")" 2>/dev/null; kill "$(cat "$p")" 2>/dev/null; } || true
          done ;;
    *) echo "cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
