#!/usr/bin/env bash
# The package under a real systemd: boots Debian bookworm with systemd as PID 1 in a container
# (debootstrap --variant=minbase, cached as a tarball; a fresh copy per run; systemd-nspawn
# --boot), installs the built .deb and the mock Auth API in it, and checks what an operator relies
# on, one line per check. Needs root, debootstrap, systemd-nspawn and (for the first run) a
# Debian mirror; where any is missing it says why and exits 77, which CTest reports as skipped.
# Usage: tests/system/systemd_test.sh BUILD_DIR   (a build configured with prefix /usr)
# Environment: SYNERGY_TOKEND_ROOTFS_CACHE (default /var/cache/synergy-tokend-test),
#              DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -uo pipefail
build=$(cd "${1:?usage: systemd_test.sh BUILD_DIR}" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "not root (booting a container needs root)"
command -v debootstrap >/dev/null || skip "debootstrap not installed (apt-get install debootstrap)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not installed (apt-get install systemd-container)"
[ -x "$build/tests/synergy-auth-mock" ] || skip "no $build/tests/synergy-auth-mock (build with tests)"

cache=${SYNERGY_TOKEND_ROOTFS_CACHE:-/var/cache/synergy-tokend-test}
tarball=$cache/bookworm-minbase-systemd.tar
if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    tree=$(mktemp -d "$cache/tree.XXXXXX")
    echo "making the bookworm tree (about a minute, once): $tarball"
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,ca-certificates \
            bookworm "$tree" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1; then
        rm -rf "$tree"
        skip "debootstrap failed (no Debian mirror reachable?): $(tail -1 "$cache/debootstrap.log")"
    fi
    tar -C "$tree" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$tree"
fi

deb=$(ls "$build"/synergy-tokend_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    (cd "$build" && cpack -G DEB >cpack-system.log 2>&1) || { cat "$build/cpack-system.log"; exit 1; }
    deb=$(ls "$build"/synergy-tokend_*.deb | head -1)
fi

root=$(mktemp -d /var/tmp/synergy-tokend-system.XXXXXX)
nspawn_pid=""
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        [ -n "${init:-}" ] && nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
        kill "$nspawn_pid" 2>/dev/null; wait "$nspawn_pid" 2>/dev/null
    fi
    rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
mkdir -p "$root/opt/mock/certs"
cp "$build/tests/synergy-auth-mock" "$root/opt/mock/"
cp "$deb" "$root/root/synergy-tokend.deb"

systemd-nspawn -D "$root" --boot --register=no --keep-unit --private-network \
    >"$build/systemd-test-console.log" 2>&1 &
nspawn_pid=$!
init=""
for _ in $(seq 100); do
    init=$(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null | head -1 | tr -d ' ')
    [ -n "$init" ] && break
    sleep 0.1
done
[ -n "$init" ] || skip "systemd-nspawn did not boot: $(tail -3 "$build/systemd-test-console.log")"
inside() { nsenter -t "$init" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
state=""
for _ in $(seq 100); do
    state=$(inside systemctl is-system-running 2>/dev/null)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
done
case "$state" in running|degraded) ;; *) skip "the container's systemd did not come up (state: ${state:-none})" ;; esac
echo "booted: systemd $(inside systemctl --version | head -1 | cut -d' ' -f2) is PID 1 of the container ($state)"

fail=0
check() { # check "WHAT" COMMAND...: ok or FAIL, one line
    local what=$1; shift
    if "$@" >/tmp/systemd-check.$$ 2>&1; then echo "ok: $what"; else echo "FAIL: $what"; sed 's/^/    /' /tmp/systemd-check.$$ | tail -5; fail=1; fi
    rm -f /tmp/systemd-check.$$
}
status_line() { inside systemctl show -P StatusText synergy-tokend; }
mock_counter() { inside curl -sf http://127.0.0.1:8444/control/counters | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
token_tcp() { inside curl -sf -H 'X-Tokend-Request: 1' -H 'Accept: text/plain' http://127.0.0.1:8731/v1/tokens/stats; }
token_unix() { inside curl -sf -H 'X-Tokend-Request: 1' -H 'Accept: text/plain' --unix-socket /run/synergy-tokend/tokend.sock http://localhost/v1/tokens/stats; }
wait_for() { # wait_for SECONDS COMMAND...: polls until the command succeeds
    local n=$(( $1 * 5 )); shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    "$@"
}
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }
contains() { [[ "$1" == *"$2"* ]] || { echo "'$1' lacks '$2'"; return 1; }; }

# The mock Auth API, a transient service of the container.
inside systemd-run --quiet --unit=auth-mock /opt/mock/synergy-auth-mock --port 8443 --control-port 8444 --cert-dir /opt/mock/certs
check "mock Auth API running in the container" wait_for 10 inside curl -sf http://127.0.0.1:8444/control/counters

# Install: enabled, started, and the status line says the identity token is missing.
check "apt install ./synergy-tokend.deb" inside apt-get install -y -q /root/synergy-tokend.deb
check "install enabled the unit" is "$(inside systemctl is-enabled synergy-tokend)" enabled
check "install started the unit" is "$(inside systemctl is-active synergy-tokend)" active
check "status line says no identity token yet" is "$(status_line)" \
    "0/1 tokens servable: identity token file /etc/synergy-tokend/identity-token missing"
# minbase has no man-db: the page is there (scripts/check-package.sh renders it with man).
check "manual pages installed" inside test -s /usr/share/man/man8/synergy-tokend.8.gz -a -s /usr/share/man/man5/synergy-tokend.json.5.gz

# Configure for the mock; the identity token in place restarts the service (the .path unit).
config() { # config EXTRA_JSON_MEMBERS
    inside sh -c "cat >/etc/synergy-tokend/config.json" <<JSON
{
  "upstream": { "base_url": "https://localhost:8443/v1", "ca_file": "/opt/mock/certs/ca.pem" },
  "listen": { "unix_mode": "0666" },
  "tokens": [ { "name": "stats", "product": "synergy-stats", "customer_id": "345" $1 } ]
  $2
}
JSON
}
config "" ""
inside curl -sf -X POST -d '{"valid_identity_tokens":["system-test-identity-token"],"delay_ms":1500}' http://127.0.0.1:8444/control/settings >/dev/null
inside sh -c 'install -m 0600 /dev/stdin /etc/synergy-tokend/identity-token' <<<"system-test-identity-token"
check "putting the identity token in place restarts the service to 1/1 tokens servable" \
    wait_for 15 sh -c "[ \"\$(nsenter -t $init -a systemctl show -P StatusText synergy-tokend)\" = '1/1 tokens servable' ]"

# Type=notify: systemctl restart returns, active (running), only after the first fetch (1.5 s).
t0=$(date +%s%N)
inside systemctl restart synergy-tokend
t1=$(date +%s%N)
elapsed_ms=$(( (t1 - t0) / 1000000 ))
check "systemctl restart returned after the first fetch (${elapsed_ms} ms >= 1500)" [ "$elapsed_ms" -ge 1500 ]
check "active (running) at once" is "$(inside systemctl show -P ActiveState,SubState synergy-tokend | paste -sd' ')" "active running"
check "status line 1/1 tokens servable" is "$(status_line)" "1/1 tokens servable"
inside curl -sf -X POST -d '{"delay_ms":0}' http://127.0.0.1:8444/control/settings >/dev/null
tcp_token=$(token_tcp)
check "token over TCP" [ -n "$tcp_token" ]
check "the same token over the Unix socket" is "$(token_unix)" "$tcp_token"

# LoadCredential= under DynamicUser=.
check "runs as a dynamic user" is "$(inside systemctl show -P DynamicUser synergy-tokend)" yes
main_pid=$(inside systemctl show -P MainPID synergy-tokend)
check "the daemon's uid is a dynamic one (61184-65519)" sh -c "u=\$(nsenter -t $init -a stat -c %u /proc/$main_pid); [ \$u -ge 61184 ] && [ \$u -le 65519 ]"
check "the identity token arrived as a credential" inside test -s /run/credentials/synergy-tokend.service/identity-token
check "the root-only source stays unreadable to the service's user" sh -c "[ \"\$(nsenter -t $init -a stat -c %a /etc/synergy-tokend/identity-token)\" = 600 ]"

# Reload keeps the tokens; an invalid file fails at the prompt.
requests=$(mock_counter token_requests)
check "systemctl reload" inside systemctl reload synergy-tokend
check "journal says the reload kept the token" wait_for 5 sh -c "nsenter -t $init -a journalctl -u synergy-tokend -b --no-pager | grep -q '1 kept with their tokens'"
check "token unchanged after reload" is "$(token_tcp)" "$tcp_token"
check "no upstream call for the reload" is "$(mock_counter token_requests)" "$requests"
inside cp /etc/synergy-tokend/config.json /root/config.good
inside sh -c 'echo "{\"tokens\": [ {\"name\": \"stats\", \"product\": 1} ]}" >/etc/synergy-tokend/config.json'
check "systemctl reload with an invalid config fails at the prompt" sh -c "! nsenter -t $init -a systemctl reload synergy-tokend"
check "the error names the key in the status" sh -c "nsenter -t $init -a systemctl status synergy-tokend --no-pager -n 20 | grep -q 'tokens\[0\]'"
check "still serving after the failed reload" is "$(token_tcp)" "$tcp_token"
inside cp /root/config.good /etc/synergy-tokend/config.json

# The journal carries the daemon's priorities.
check "journal: the missing identity token at priority warning" sh -c "nsenter -t $init -a journalctl -u synergy-tokend -b -p warning..warning --no-pager | grep -q 'identity token file'"
check "journal: the ready line at priority info" sh -c "nsenter -t $init -a journalctl -u synergy-tokend -b -p info..info --no-pager | grep -q 'ready: 1/1 tokens servable'"

# The watchdog restarts a daemon that stops answering (WatchdogSec= shortened by a drop-in).
inside mkdir -p /etc/systemd/system/synergy-tokend.service.d
inside sh -c 'printf "[Service]\nWatchdogSec=2s\n" >/etc/systemd/system/synergy-tokend.service.d/watchdog.conf'
inside systemctl daemon-reload
inside systemctl restart synergy-tokend
stopped_pid=$(inside systemctl show -P MainPID synergy-tokend)
restarts=$(inside systemctl show -P NRestarts synergy-tokend)
inside sh -c "kill -STOP $stopped_pid"
check "watchdog restarted the SIGSTOPped daemon" wait_for 20 sh -c "p=\$(nsenter -t $init -a systemctl show -P MainPID synergy-tokend); [ \"\$p\" != 0 ] && [ \"\$p\" != $stopped_pid ] && [ \"\$(nsenter -t $init -a systemctl show -P NRestarts synergy-tokend)\" -gt $restarts ]"
check "journal says watchdog timeout" sh -c "nsenter -t $init -a journalctl -u synergy-tokend -b --no-pager | grep -qi 'watchdog timeout'"
inside rm /etc/systemd/system/synergy-tokend.service.d/watchdog.conf
inside systemctl daemon-reload

# state.persist: a restart costs no upstream call.
config "" ', "state": { "persist": true }'
inside systemctl restart synergy-tokend
check "token with state.persist" wait_for 10 token_tcp
requests=$(mock_counter token_requests)
inside systemctl restart synergy-tokend
check "after a restart the persisted token is served" wait_for 10 token_tcp
check "with no upstream call (mock counter $requests)" is "$(mock_counter token_requests)" "$requests"

# Issue 15: two users of the booted system, one allowed, one refused, on both listeners.
inside useradd -M alice; inside useradd -M bob
config ', "allow": { "users": ["alice"] }' ', "state": { "persist": true }'
check "reload with the rule" inside systemctl reload synergy-tokend
as() { local user=$1; shift; inside runuser -u "$user" -- curl -s -H 'X-Tokend-Request: 1' "$@"; }
check "alice (allowed) reads the token over TCP" [ -n "$(as alice -f -H 'Accept: text/plain' http://127.0.0.1:8731/v1/tokens/stats)" ]
check "alice (allowed) reads the token over the Unix socket" [ -n "$(as alice -f -H 'Accept: text/plain' --unix-socket /run/synergy-tokend/tokend.sock http://localhost/v1/tokens/stats)" ]
bob_uid=$(inside id -u bob)
check "bob (refused) gets 403 naming the rule over TCP" contains "$(as bob -w ' %{http_code}' http://127.0.0.1:8731/v1/tokens/stats)" "caller uid $bob_uid (bob) may not read profile \\\"stats\\\""
check "bob (refused) gets 403 naming the rule over the Unix socket" contains "$(as bob -w ' %{http_code}' --unix-socket /run/synergy-tokend/tokend.sock http://localhost/v1/tokens/stats)" " 403"

# systemd-analyze security: the published figure is the offline one (as scripts/check-package.sh
# computes it); the running systemd's is printed beside it.
score=$(inside systemd-analyze security --offline=true /lib/systemd/system/synergy-tokend.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
online=$(inside systemd-analyze security synergy-tokend.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure ${score:-unknown} offline, ${online:-unknown} from the running systemd"
published=$(sed -n 's/.*exposure is \*\*\([0-9.]*\)\*\*.*/\1/p' "$(dirname "$0")/../../README.md" | head -1)
check "exposure ${score:-unknown} is the README's published ${published:-unknown}" is "$score" "$published"

# Stop exits 0; remove stops; purge removes the state.
check "systemctl stop exits 0" inside systemctl stop synergy-tokend
check "the daemon's exit status was 0" is "$(inside systemctl show -P ExecMainStatus synergy-tokend)" 0
inside systemctl start synergy-tokend
check "apt remove" inside apt-get remove -y -q synergy-tokend
check "remove stopped the unit" sh -c "! nsenter -t $init -a systemctl is-active -q synergy-tokend"
check "state kept until purge" inside test -d /var/lib/private/synergy-tokend
check "apt purge" inside apt-get purge -y -q synergy-tokend
check "purge removed the state" sh -c "! nsenter -t $init -a test -e /var/lib/private/synergy-tokend && ! nsenter -t $init -a test -e /var/lib/synergy-tokend"

[ $fail -eq 0 ] && echo "systemd test passed"
exit $fail
