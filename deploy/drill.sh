#!/usr/bin/env bash
# The install drill: performs docs/deploy.md literally on this (fresh, Debian) machine, as root.
#
#   DRILL_CONFIRM=yes deploy/drill.sh          # CI runs this (.ci/run), after the test suite
#   deploy/drill.sh --print-steps              # what it runs, without running it
#
# It extracts every ```sh block of docs/deploy.md (except those marked `<!-- drill: skip … -->`)
# and runs them, in order, in one bash with `set -euo pipefail`, in a clean root environment:
# install, a backup, a scratch restore served and checked, an upgrade and a rollback with the
# app servers restarted one at a time. The blocks end by fetching a page through nginx. What
# the drill adds around them, and only this:
# - Without systemd as PID 1 (a container), `systemctl` is a small stand-in below that starts the
#   units' ExecStart as their User with their EnvironmentFile (and redis-server, nginx) directly.
# - PostgreSQL: a cluster of the drill's own (`pg_createcluster … drill`, port 5439, PGPORT) so
#   the role and database the guide creates never touch the machine's main cluster.
# - Python: where no 3.12+ is on the clean PATH and none is in /opt/pyenv, and this machine has
#   a pyenv-built one (~/.pyenv, $PYENV_VERSION), it is copied to /opt/pyenv/versions first
#   (its library run path made relative with patchelf): what the guide's `pyenv install 3.13`
#   would produce, as CI cannot reach GitHub.
# - The repository installed is this checkout (PRESSROOM_REPOSITORY).
# It refuses to run over an installation it did not make, and removes everything it installed
# when it ends (DRILL_KEEP=1 leaves the site running for a look).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
state=/var/lib/pressroom-drill
log_dir=/var/log/pressroom-drill
run_dir=/run/pressroom-drill
drill_port=5439
clean_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
started=$(date +%s)

guide_blocks() {
    # Every ```sh block of docs/deploy.md not marked `<!-- drill: skip … -->`, in order.
    awk '
        /^```sh[[:space:]]*$/ {
            if (skip) { skipping = 1 } else { running = 1; printf "echo \"== docs/deploy.md line %d ($(date +%%T))\"\n", NR }
            skip = 0; next
        }
        /^```/ { running = 0; skipping = 0; next }
        running { print; next }
        skipping { next }
        /<!-- drill: skip/ { skip = 1; next }
        /[^[:space:]]/ { skip = 0 }
    ' "$here/docs/deploy.md"
}

say() { echo "drill: $*"; }

if [ "${1:-}" = --print-steps ]; then
    guide_blocks
    exit 0
fi
fail() { echo "drill: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs system packages, a user and services)"
[ "${DRILL_CONFIRM:-}" = yes ] || fail "this installs Pressroom system-wide and removes it after: set DRILL_CONFIRM=yes"
if [ ! -e "$state/installed" ]; then
    for path in /srv/pressroom /etc/pressroom /var/lib/pressroom; do
        [ -e "$path" ] && fail "$path exists and was not made by the drill: not touching it"
    done
    id pressroom >/dev/null 2>&1 && fail "a user pressroom exists that the drill did not make"
fi

pg_version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)

cleanup() {
    set +e
    for pidfile in "$run_dir"/*.pid; do
        [ -e "$pidfile" ] || continue
        kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null
        rm -f "$pidfile"
    done
    # What the guide's blocks started in the background (the scratch restore's server), if a
    # block failed before stopping it: every process of the user the drill created.
    if id pressroom >/dev/null 2>&1; then
        for pid in $(pgrep -u pressroom); do kill "$pid" 2>/dev/null; done
    fi
    if [ -e "$state/nginx-started" ]; then nginx -s stop 2>/dev/null; fi
    if [ -e "$state/redis-started" ]; then
        kill "$(cat /run/redis/redis-server.pid 2>/dev/null)" 2>/dev/null
    fi
    sleep 1
    rm -f /etc/nginx/conf.d/pressroom.conf /usr/local/bin/pressroom \
        /etc/systemd/system/pressroom-serve@.service /etc/systemd/system/pressroom-worker.service
    rm -rf /var/cache/nginx/pressroom /srv/pressroom /etc/pressroom /var/lib/pressroom \
        /var/lib/pressroom-scratch
    [ -e /etc/nginx/nginx.conf ] && sed -i '/^worker_rlimit_nofile 8192;$/d' /etc/nginx/nginx.conf
    [ -e /etc/redis/redis.conf ] && sed -i '/^# Pressroom:/,/^appendonly no$/d' /etc/redis/redis.conf
    if [ -n "$pg_version" ] && pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version drill "; then
        pg_dropcluster --stop "$pg_version" drill
    fi
    if [ -e "$state/python-copied" ]; then rm -rf /opt/pyenv; fi
    id pressroom >/dev/null 2>&1 && userdel pressroom
    rm -rf "$state" "$run_dir"
    set -e
}

# Leftovers of an interrupted run go first, so the drill can run again.
if [ -e "$state/installed" ]; then cleanup; fi
mkdir -p "$state" "$log_dir" "$run_dir"
touch "$state/installed"
if [ "${DRILL_KEEP:-}" != 1 ]; then
    trap 'status=$?; cleanup; exit $status' EXIT
fi

# PostgreSQL: the drill's own cluster.
command -v pg_createcluster >/dev/null || {
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
}
pg_createcluster "$pg_version" drill --port "$drill_port" --start >/dev/null

# Python: the stand-in for `pyenv install 3.13` (see the header).
if ! PATH=$clean_path python3 -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null &&
    ! ls -d /opt/pyenv/versions/3.1[2-9]* >/dev/null 2>&1; then
    source_root="${PYENV_ROOT:-$HOME/.pyenv}"
    version="${PYENV_VERSION:-}"
    if [ -z "$version" ] || [ ! -x "$source_root/versions/$version/bin/python3" ]; then
        version=$(ls "$source_root/versions" 2>/dev/null | grep -E '^3\.1[2-9]' | sort -V | tail -n 1 || true)
    fi
    if [ -n "$version" ]; then
        mkdir -p /opt/pyenv/versions
        cp -a "$source_root/versions/$version" /opt/pyenv/versions/
        touch "$state/python-copied"
        # Built with --enable-shared, it finds libpython through an absolute run path into
        # root's private home; `pyenv install` into /opt/pyenv would have written this one.
        command -v patchelf >/dev/null || apt-get install -y -qq patchelf >/dev/null
        for binary in /opt/pyenv/versions/"$version"/bin/*; do
            if [ ! -L "$binary" ] && patchelf --print-rpath "$binary" >/dev/null 2>&1; then
                patchelf --set-rpath '$ORIGIN/../lib' "$binary"
            fi
        done
        say "copied Python $version to /opt/pyenv/versions (stands in for pyenv install)"
    fi
fi

# The guide's blocks, in order.
steps="$state/steps.sh"
{
    echo 'cd /root'
    if [ ! -d /run/systemd/system ]; then
        say "no systemd here: systemctl starts the services directly" >&2
        cat "$here/deploy/drill-systemctl.sh"
    fi
    # From the clone of the code to the first page through nginx: at most CLONE_TO_SERVING s.
    guide_blocks | awk -v limit="${CLONE_TO_SERVING:-600}" '
        /^git clone "\$PRESSROOM_REPOSITORY" \/srv\/pressroom/ && !cloned {
            print "drill_cloned_at=$(date +%s)  # drill: timer"; cloned = 1
        }
        { print }
        cloned && !served && /^curl -fsS -H "Host: \$DOMAIN" http:\/\/127\.0\.0\.1\/ \| grep "Skip to content"/ {
            print "drill_elapsed=$(($(date +%s) - drill_cloned_at))  # drill: timer"
            print "echo \"drill: clone to serving in $drill_elapsed s\""
            print "[ \"$drill_elapsed\" -le " limit " ] || { echo \"drill: clone to serving took $drill_elapsed s, over " limit " s\" >&2; exit 1; }"
            served = 1
        }
    '
} >"$steps"
[ "$(grep -c '# drill: timer$' "$steps")" = 2 ] ||
    fail "docs/deploy.md's clone or first page through nginx moved: update the timer in drill.sh"

say "running $(grep -c '^echo "== docs/deploy.md' "$steps") blocks of docs/deploy.md, from $(date +%T)"
env -i HOME=/root PATH="$clean_path" LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
    PGPORT="$drill_port" PRESSROOM_REPOSITORY="$here" DRILL_LOG_DIR="$log_dir" DRILL_RUN_DIR="$run_dir" \
    DRILL_STATE="$state" bash -euo pipefail "$steps"

say "docs/deploy.md followed to a page through nginx, a restore, an upgrade and a rollback in $(($(date +%s) - started)) s"
if [ "${DRILL_KEEP:-}" = 1 ]; then
    say "left running (DRILL_KEEP=1); run it again without DRILL_KEEP to remove everything"
fi
