#!/usr/bin/env bash
# Makes sure a headless Chromium is installed for the report test (tests/it/report_browser.rs),
# which renders each committed scenario's report.html in a real browser. Installs Debian's
# chromium package when it is missing.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "ci: no Chromium found; installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
