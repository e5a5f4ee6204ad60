# Throw-away MariaDB servers for the C tests (sourced by tests/c/run.sh).
#
# mariadb_install DIR   creates a data directory under DIR (once; about 0.5 s)
# mariadb_start DIR     starts mariadbd on DIR/sock, no TCP; waits until it answers
# mariadb_stop DIR      stops it (no error when it is already down)
# The server runs as root with --no-defaults, so /etc/mysql and any system server stay untouched.

mariadb_install() {
    local dir=$1
    mkdir -p "$dir"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 || {
        echo "mariadb-install-db failed:" >&2
        cat "$dir/install.log" >&2
        return 1
    }
}

mariadb_start() {
    local dir=$1 i
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --pid-file="$dir/pid" \
        --skip-networking --user=root --log-error="$dir/err" --skip-log-bin \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --max-connections=200 &
    echo $! >"$dir/server.pid"
    for i in $(seq 1 400); do
        if mariadb-admin --no-defaults -S "$dir/sock" -uroot ping >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
            echo "mariadbd exited during start-up:" >&2
            tail -20 "$dir/err" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "mariadbd did not answer within 20 s" >&2
    return 1
}

mariadb_stop() {
    local dir=$1 pid
    [ -f "$dir/server.pid" ] || return 0
    pid=$(cat "$dir/server.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    rm -f "$dir/server.pid"
}
