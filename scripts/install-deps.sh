#!/usr/bin/env bash
# Installs what synergy-tokend needs to build and test on Debian bookworm (idempotent: packages
# already present are not downloaded again). Extra package names may be passed as arguments.
set -euo pipefail

packages=(build-essential cmake pkg-config libboost1.81-dev libboost-json1.81-dev
          libboost-test1.81-dev libssl-dev curl ca-certificates "$@")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
