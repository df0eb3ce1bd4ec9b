#!/usr/bin/env bash
# PostgreSQL and MariaDB servers for the tests: loopback only, data in a folder of their own.
#
#   bash tools/test-databases.sh install        # as root: Debian's packages (+ en_US.UTF-8)
#   bash tools/test-databases.sh start DIR      # initialise and start both servers in DIR
#   . DIR/env                                   # SNAPEXPORT_TEST_POSTGRES, SNAPEXPORT_TEST_MYSQL
#   bash tools/test-databases.sh stop DIR       # stop both (safe to call twice)
#
# Each server listens on 127.0.0.1 on a port that was free, keeps its data, socket and log
# under DIR, and runs without systemd. As root the servers run as the packages' own users
# (postgres, mysql); otherwise as the calling user. PostgreSQL's cluster uses en_US.UTF-8
# when that locale exists (a collation that disagrees with byte order: 'Éclair' before
# 'Employer'), else C.UTF-8; MariaDB keeps its default utf8mb4_general_ci.
# A server that cannot be started is reported on stderr and left out of DIR/env; the
# command then exits 1 (the tests skip, loudly, or fail under CI=true).
set -euo pipefail

log() { echo "test-databases: $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

have_en_us() { locale -a 2>/dev/null | grep -qix 'en_US.utf8'; }

install() {
    [ "$(id -u)" = 0 ] || { log "install needs root (apt-get)"; return 1; }
    local want=()
    pg_bindir >/dev/null || want+=(postgresql)
    command -v mariadbd >/dev/null 2>&1 || want+=(mariadb-server mariadb-client)
    # localedef comes with libc; the locale definitions it compiles come with 'locales'.
    have_en_us || [ -e /usr/share/i18n/locales/en_US ] || want+=(locales)
    if [ "${#want[@]}" -gt 0 ]; then
        log "apt-get install ${want[*]}"
        # No service starts inside the package scripts: we start our own servers.
        local policy=/usr/sbin/policy-rc.d added=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
        [ -n "$added" ] && rm -f "$policy"
    fi
    if ! have_en_us; then
        log "generating the en_US.UTF-8 locale"
        localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8 \
            || log "could not generate en_US.UTF-8; PostgreSQL will use C.UTF-8"
    fi
}

# Run a command as the server's user (root runs servers as their packages' users).
as_user() {
    local user=$1; shift
    if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

start_postgres() {
    local dir=$1 bin port locale user=postgres
    bin=$(pg_bindir) || { log "PostgreSQL is not installed (run: $0 install)"; return 1; }
    [ "$(id -u)" = 0 ] || user=$(id -un)
    locale=C.UTF-8
    have_en_us && locale=en_US.UTF-8
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown "$user" "$dir/pg"
    chmod 700 "$dir/pg"
    as_user "$user" "$bin/initdb" -D "$dir/pg/data" -U snapexport --auth=trust \
        --encoding=UTF8 --locale="$locale" >"$dir/pg/initdb.log" 2>&1 \
        || { log "initdb failed: $(tail -n 3 "$dir/pg/initdb.log")"; return 1; }
    port=$(free_port)
    as_user "$user" "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c fsync=off" \
        start >/dev/null \
        || { log "PostgreSQL did not start: $(tail -n 3 "$dir/pg/server.log")"; return 1; }
    echo "export SNAPEXPORT_TEST_POSTGRES=postgresql://snapexport@127.0.0.1:$port/postgres" \
        >>"$dir/env"
    echo "$bin/pg_ctl" >"$dir/pg/ctl"
    log "PostgreSQL on 127.0.0.1:$port ($locale)"
}

start_mariadb() {
    local dir=$1 port user=mysql i
    command -v mariadbd >/dev/null 2>&1 || { log "MariaDB is not installed (run: $0 install)"; return 1; }
    [ "$(id -u)" = 0 ] || user=$(id -un)
    mkdir -p "$dir/mariadb"
    [ "$(id -u)" = 0 ] && chown "$user" "$dir/mariadb"
    chmod 700 "$dir/mariadb"
    as_user "$user" mariadb-install-db --no-defaults --datadir="$dir/mariadb/data" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$dir/mariadb/install.log" 2>&1 \
        || { log "mariadb-install-db failed: $(tail -n 3 "$dir/mariadb/install.log")"; return 1; }
    port=$(free_port)
    as_user "$user" mariadbd --no-defaults --datadir="$dir/mariadb/data" \
        --socket="$dir/mariadb/sock" --pid-file="$dir/mariadb/pid" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --log-error="$dir/mariadb/server.log" </dev/null >/dev/null 2>&1 &
    for i in $(seq 1 120); do
        mariadb-admin --no-defaults --socket="$dir/mariadb/sock" -uroot ping >/dev/null 2>&1 && break
        [ "$i" = 120 ] && { log "MariaDB did not start: $(tail -n 3 "$dir/mariadb/server.log")"; return 1; }
        sleep 0.5
    done
    mariadb --no-defaults --socket="$dir/mariadb/sock" -uroot <<'SQL'
CREATE USER 'snapexport'@'127.0.0.1' IDENTIFIED BY 'snapexport';
GRANT ALL PRIVILEGES ON *.* TO 'snapexport'@'127.0.0.1' WITH GRANT OPTION;
SQL
    echo "export SNAPEXPORT_TEST_MYSQL=mysql://snapexport:snapexport@127.0.0.1:$port/mysql" \
        >>"$dir/env"
    log "MariaDB on 127.0.0.1:$port ($(mariadbd --version | awk '{print $3}'))"
}

stop() {
    local dir=$1 user=postgres
    [ "$(id -u)" = 0 ] || user=$(id -un)
    if [ -f "$dir/pg/ctl" ] && [ -f "$dir/pg/data/postmaster.pid" ]; then
        as_user "$user" "$(cat "$dir/pg/ctl")" -D "$dir/pg/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
    if [ -S "$dir/mariadb/sock" ]; then
        mariadb-admin --no-defaults --socket="$dir/mariadb/sock" -uroot shutdown \
            >/dev/null 2>&1 || true
    fi
}

command=${1:-}
case "$command" in
    install) install ;;
    start)
        dir=${2:?usage: $0 start DIR}
        mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
        chmod 755 "$dir"  # the servers' users must reach their own folders below it
        : >"$dir/env"
        status=0
        start_postgres "$dir" || status=1
        start_mariadb "$dir" || status=1
        exit "$status"
        ;;
    stop) stop "${2:?usage: $0 stop DIR}" ;;
    *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
