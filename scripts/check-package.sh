#!/usr/bin/env bash
# Builds the Debian package from a configured build directory (prefix /usr) and checks it:
# contents (binary, unit, sample config as a conffile), `systemd-analyze verify` on the unit as
# installed, and the unit's `systemd-analyze security` exposure (must stay below 2.0).
# Usage: scripts/check-package.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: check-package.sh BUILD_DIR}" && pwd)
cd "$build"

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' CMakeCache.txt)
[ "$prefix" = "/usr" ] || { echo "FAIL: configure with -DCMAKE_INSTALL_PREFIX=/usr (is $prefix)"; exit 1; }

rm -f synergy-tokend_*.deb
cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; exit 1; }
deb=$(ls synergy-tokend_*.deb)
echo "built $deb"
dpkg-deb --info "$deb" | sed 's/^/  /'
contents=$(dpkg-deb --contents "$deb")
echo "$contents" | sed 's/^/  /'

fail=0
expect() {
    if echo "$contents" | grep -q -- "$1"; then echo "ok: contains $1"; else echo "FAIL: missing $1"; fail=1; fi
}
expect '\./usr/bin/synergy-tokend$'
expect 'lib/systemd/system/synergy-tokend.service$'
expect '\./etc/synergy-tokend/config.json$'
expect 'usr/share/doc/synergy-tokend/README.md$'
if dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/synergy-tokend/config.json; then
    echo "ok: /etc/synergy-tokend/config.json is a conffile"
else
    echo "FAIL: /etc/synergy-tokend/config.json is not a conffile"; fail=1
fi

# Installable on this system: apt resolves its dependencies (simulation, nothing is changed).
if apt-get install --simulate "./$deb" >apt-sim.log 2>&1; then
    echo "ok: apt-get install ./$deb resolves"
else
    cat apt-sim.log; echo "FAIL: apt-get cannot install the package"; fail=1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb --extract "$deb" "$root"
unit=$(find "$root" -name synergy-tokend.service | head -1)
if command -v systemd-analyze >/dev/null; then
    # Verify the unit as shipped, with its binary path pointing at the extracted package.
    mkdir -p "$root/verify"
    sed "s|/usr/bin/synergy-tokend|$root/usr/bin/synergy-tokend|g" "$unit" >"$root/verify/synergy-tokend.service"
    systemd-analyze verify "$root/verify/synergy-tokend.service" >verify.log 2>&1 || true
    if [ -s verify.log ]; then cat verify.log; echo "FAIL: systemd-analyze verify reported problems"; fail=1; else echo "ok: systemd-analyze verify"; fi
    exposure=$(systemd-analyze security --offline=true --root="$root" "$unit" 2>/dev/null |
               sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    echo "systemd-analyze security exposure: ${exposure:-unknown}"
    if [ -z "$exposure" ] || ! awk -v e="$exposure" 'BEGIN { exit !(e < 2.0) }'; then
        echo "FAIL: exposure must be below 2.0"; fail=1
    fi
else
    echo "FAIL: systemd-analyze not found (apt-get install systemd)"; fail=1
fi
[ $fail -eq 0 ] && echo "package check passed"
exit $fail
