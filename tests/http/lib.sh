# SPDX-License-Identifier: MIT
# tests/http/lib.sh: nginx started by a test (sourced, bash, after
# tests/fuse/lib.sh).  Servers listen on 127.0.0.1 only, on ports the kernel
# picks, and are stopped when the test ends.
#
#   free_port                  a TCP port free on 127.0.0.1 now
#   nginx_start NAME SERVER_CONF [WORKER_USER WORKER_GROUP]
#                              runs nginx (master in the foreground of a
#                              background job) with SERVER_CONF included in
#                              http {}, its files under $T/nginx-NAME; waits
#                              until it answers; sets NGINX_PID
#                              (access.log: request, status, body bytes, "Range")
#   contrib_conf FILE SED...   contrib/nginx/FILE with the sed expressions applied
#   nginx_origin NAME ROOT WORKER_USER WORKER_GROUP
#                              contrib/nginx/treedisk-origin.conf serving ROOT
#                              on a free port, started as nginx_start NAME;
#                              sets URL (http://127.0.0.1:PORT) and PORT

requires nginx curl

free_port() {
        "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

contrib_conf() {
        local f=$TD_SOURCE_DIR/contrib/nginx/$1 args=()
        shift
        for e in "$@"; do args+=(-e "$e"); done
        sed "${args[@]}" "$f"
}

nginx_start() {
        local name=$1 server=$2 user=${3:-} group=${4:-} d=$T/nginx-$1 port i
        mkdir -p "$d/tmp"
        chmod 755 "$d"
        port=$(sed -n 's/^[[:space:]]*listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$server" | head -n 1)
        {
                if is_root && [ -n "$user" ]; then echo "user $user $group;"; fi
                echo "daemon off; master_process on; worker_processes 2;"
                echo "pid $d/nginx.pid; error_log $d/error.log info;"
                echo "events { worker_connections 256; }"
                echo "http {"
                echo "  log_format td '\$request \$status \$body_bytes_sent \"\$http_range\"';"
                echo "  access_log $d/access.log td;"
                for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $d/tmp/$t;"; done
                echo "  include $server;"
                echo "}"
        } >"$d/nginx.conf"
        if is_root && [ -n "$user" ]; then chown -R "$user" "$d/tmp"; fi
        nginx -t -q -c "$d/nginx.conf" -p "$d" 2>"$d/check.err" || { cat "$d/check.err" >&2; fail "nginx $name: bad config"; }
        nginx -c "$d/nginx.conf" -p "$d" 2>>"$d/error.log" &
        NGINX_PID=$!
        on_exit "kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null || true"
        for ((i = 0; i < 200; i++)); do
                kill -0 "$NGINX_PID" 2>/dev/null || { cat "$d/error.log" >&2; fail "nginx $name exited"; }
                if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
                sleep 0.05
        done
        fail "nginx $name does not answer on 127.0.0.1:$port"
}

nginx_origin() {
        local name=$1 root=$2
        PORT=$(free_port)
        contrib_conf treedisk-origin.conf "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$PORT;|" \
                "s|root /srv/treedisk;|root $root;|" >"$T/$name.conf"
        nginx_start "$name" "$T/$name.conf" "$3" "$4"
        URL=http://127.0.0.1:$PORT
}
