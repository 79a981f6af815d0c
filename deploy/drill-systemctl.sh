# A stand-in for `systemctl` where systemd is not PID 1 (a container, CI): deploy/drill.sh puts
# it in front of docs/deploy.md's blocks. It knows what the guide asks of systemctl: start,
# restart and stop the Pressroom units (their ExecStart as their User, exec'd so the pid is theirs, in their
# WorkingDirectory, with their EnvironmentFile, as systemd would), redis-server and nginx.
# Logs go to $DRILL_LOG_DIR, process groups to $DRILL_RUN_DIR.

drill_unit_file() {
    local unit=$1
    case "$unit" in
    *@*) echo "/etc/systemd/system/${unit%%@*}@.service" ;;
    *) echo "/etc/systemd/system/$unit.service" ;;
    esac
}

drill_unit_value() {
    # The value of `Key=` in a unit file, with %i replaced by the instance.
    local file=$1 key=$2 instance=$3
    sed -n "s/^$key=//p" "$file" | tail -n 1 | sed "s/%i/$instance/g"
}

drill_wait_for_port() {
    local port=$1
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "systemctl (drill): nothing listens on port $port" >&2
    return 1
}

drill_stop() {
    local unit=$1 pidfile="$DRILL_RUN_DIR/$1.pid"
    case "$unit" in
    redis-server)
        if [ -e /run/redis/redis-server.pid ]; then
            kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
            for _ in $(seq 1 50); do [ -e /run/redis/redis-server.pid ] || break; sleep 0.1; done
        fi
        ;;
    nginx)
        if [ -e /run/nginx.pid ]; then nginx -s stop 2>/dev/null || true; sleep 0.5; fi
        ;;
    *)
        [ -e "$pidfile" ] || return 0
        # As KillMode=mixed: SIGTERM to the main process (it finishes the requests in flight),
        # then whatever is left of its group is killed.
        local group
        group=$(cat "$pidfile")
        kill -TERM "$group" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$group" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$group" 2>/dev/null || true
        rm -f "$pidfile"
        ;;
    esac
}

drill_start() {
    local unit=$1
    case "$unit" in
    redis-server)
        install -d -o redis -g redis /run/redis /var/log/redis
        runuser -u redis -- redis-server /etc/redis/redis.conf --daemonize yes
        touch "$DRILL_STATE/redis-started"
        drill_wait_for_port 6379
        return
        ;;
    nginx)
        nginx
        touch "$DRILL_STATE/nginx-started"
        return
        ;;
    esac
    local file instance="" user group directory environment command
    file=$(drill_unit_file "$unit")
    [ -e "$file" ] || { echo "systemctl (drill): no unit $unit" >&2; return 1; }
    case "$unit" in *@*) instance=${unit#*@} ;; esac
    user=$(drill_unit_value "$file" User "$instance")
    group=$(drill_unit_value "$file" Group "$instance")
    directory=$(drill_unit_value "$file" WorkingDirectory "$instance")
    environment=$(drill_unit_value "$file" EnvironmentFile "$instance")
    command=$(drill_unit_value "$file" ExecStart "$instance")
    # In a subshell, so the service is no job of the guide's shell (a `wait` or `%1` there
    # must not reach it), and in a session of its own, so stopping it stops all its processes.
    (
        setsid bash -c '
            set -a; . "$1"; set +a
            cd "$2"
            exec setpriv --reuid="$3" --regid="$4" --init-groups -- $5
        ' drill "$environment" "$directory" "$user" "${group:-$user}" "$command" >>"$DRILL_LOG_DIR/$unit.log" 2>&1 &
        echo $! >"$DRILL_RUN_DIR/$unit.pid"
    )
    case "$unit" in pressroom-serve@*) drill_wait_for_port "$instance" ;; esac
}

systemctl() {
    local action=$1
    shift
    case "$action" in
    daemon-reload) return 0 ;;
    enable)
        [ "${1:-}" = --now ] || return 0
        shift
        for unit in "$@"; do drill_start "$unit"; done
        ;;
    start) for unit in "$@"; do drill_start "$unit"; done ;;
    stop) for unit in "$@"; do drill_stop "$unit"; done ;;
    restart)
        for unit in "$@"; do
            drill_stop "$unit"
            drill_start "$unit"
        done
        ;;
    *)
        echo "systemctl (drill): $action is not known to the stand-in" >&2
        return 1
        ;;
    esac
}
