#!/usr/bin/env bash
# Installs what tests/browser needs: Debian's chromium + chromium-driver (and libnss3-tools for
# certutil), and the Python packages of tests/browser/requirements.txt. Idempotent: packages
# already installed are not fetched again. Run as root (CI); on a developer machine without
# chromium the browser tests are skipped instead.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(chromium chromium-driver libnss3-tools fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != "0" ]; then
        echo "browser-deps: missing ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "browser-deps: ${packages[*]} already installed"
fi

if ! python3 -c 'import selenium' >/dev/null 2>&1; then
    # A Debian system Python refuses pip installs (PEP 668); CI's own Python does not.
    python3 -m pip install -q -r tests/browser/requirements.txt \
        || python3 -m pip install -q --break-system-packages -r tests/browser/requirements.txt
fi

chromium --version 2>/dev/null || /usr/lib/chromium/chromium --version
chromedriver --version
