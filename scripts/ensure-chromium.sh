#!/usr/bin/env bash
# Installs Debian's chromium for the real-browser tests when it is missing and we may install it
# (root with apt-get). Otherwise says so; the browser tests then skip with that reason.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing chromium for the browser tests (apt-get)…"
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/tmp/contactsync-chromium.log 2>&1 \
    || echo "chromium could not be installed (see /tmp/contactsync-chromium.log); browser tests will be skipped"
else
  echo "chromium is not installed; browser tests will be skipped (install Debian's 'chromium' package to run them)"
fi
exit 0
