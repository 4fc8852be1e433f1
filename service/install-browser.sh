#!/usr/bin/env bash
# Installs Debian's `chromium` for the browser test (tests/service/test_browser.py), which drives
# it through Playwright's `executable_path`: no `playwright install`, no browser downloads.
# Idempotent: does nothing when `chromium` is already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-browser: chromium is missing and this user cannot run apt-get (no root, no sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends chromium
