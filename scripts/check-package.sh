#!/usr/bin/env bash
# Builds the Debian package from a configured build directory (prefix /usr) and checks it:
# contents (stripped binary, units, sample config as a conffile, manual pages, copyright,
# changelog, maintainer scripts), the -dbgsym package beside it, `lintian` at its default settings
# (0 errors, 0 warnings), `systemd-analyze verify` on the unit as installed, and the unit's
# `systemd-analyze security` exposure (must stay below 2.0).
# Usage: scripts/check-package.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: check-package.sh BUILD_DIR}" && pwd)
cd "$build"

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' CMakeCache.txt)
[ "$prefix" = "/usr" ] || { echo "FAIL: configure with -DCMAKE_INSTALL_PREFIX=/usr (is $prefix)"; exit 1; }

rm -f synergy-tokend_*.deb synergy-tokend-dbgsym_*.ddeb
cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; exit 1; }
deb=$(ls synergy-tokend_*.deb)
echo "built $deb"
dpkg-deb --info "$deb" | sed 's/^/  /'
contents=$(dpkg-deb --contents "$deb")
echo "$contents" | sed 's/^/  /'

fail=0
expect() {
    if grep -q -- "$1" <<<"$contents"; then echo "ok: contains $1"; else echo "FAIL: missing $1"; fail=1; fi
}
expect '\./usr/bin/synergy-tokend$'
expect 'lib/systemd/system/synergy-tokend.service$'
expect '\./etc/synergy-tokend/config.json$'
expect 'usr/share/doc/synergy-tokend/README.md$'
expect 'usr/share/doc/synergy-tokend/copyright$'
expect 'usr/share/doc/synergy-tokend/changelog.Debian.gz$'
expect 'usr/share/man/man8/synergy-tokend.8.gz$'
expect 'usr/share/man/man5/synergy-tokend.json.5.gz$'
expect 'lib/systemd/system/synergy-tokend-identity.path$'
# Listed once into a variable and grepped as a here-string: `grep -q` on a pipe may end it early,
# and pipefail would count the writer's SIGPIPE as a failure.
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for script in postinst prerm postrm; do
    if grep -qx "./$script" <<<"$control"; then
        echo "ok: maintainer script $script"
    else
        echo "FAIL: no maintainer script $script"; fail=1
    fi
done
if ls synergy-tokend-dbgsym_*.ddeb >/dev/null 2>&1 &&
   dpkg-deb --contents synergy-tokend-dbgsym_*.ddeb | grep 'usr/lib/debug/.build-id/.*\.debug$' >/dev/null; then
    echo "ok: debug symbols in $(ls synergy-tokend-dbgsym_*.ddeb)"
else
    echo "FAIL: no -dbgsym package with the debug symbols"; fail=1
fi
# lintian at its default settings: no error, no warning (info and overridden tags with their
# reasons, packaging/lintian-overrides, do not count).
if command -v lintian >/dev/null; then
    lintian "$deb" >lintian.log 2>&1 || true
    { grep -v 'running with root privileges' lintian.log || true; } | sed 's/^/  lintian: /'
    if grep -qE '^[EW]: ' lintian.log; then
        echo "FAIL: lintian reports $(grep -c '^E: ' lintian.log) error(s), $(grep -c '^W: ' lintian.log) warning(s)"; fail=1
    else
        echo "ok: lintian: 0 errors, 0 warnings"
    fi
else
    echo "FAIL: lintian not found (apt-get install lintian)"; fail=1
fi
if grep -qx /etc/synergy-tokend/config.json <<<"$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)"; then
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
if [[ "$(file "$root/usr/bin/synergy-tokend")" == *", stripped"* ]]; then
    echo "ok: /usr/bin/synergy-tokend is stripped"
else
    echo "FAIL: /usr/bin/synergy-tokend is not stripped"; fail=1
fi
# `man synergy-tokend` renders without a groff warning.
for page in man8/synergy-tokend.8.gz man5/synergy-tokend.json.5.gz; do
    if out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$root/usr/share/man/$page" 2>&1 >/dev/null) && [ -z "$out" ]; then
        echo "ok: man page $page renders cleanly"
    else
        echo "$out"; echo "FAIL: man page $page"; fail=1
    fi
done
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
