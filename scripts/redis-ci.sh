#!/usr/bin/env bash
# Makes `redis-server` available for the tests of the shared second tier (core/src/remote,
# __test__/remote*.spec.js). Idempotent: does nothing when a redis-server (or valkey-server)
# binary is already on PATH. The tests start and stop their own servers on free 127.0.0.1
# ports in temp dirs, so this script installs only; it starts nothing.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1 || command -v valkey-server >/dev/null 2>&1; then
  echo "redis-ci: $(command -v redis-server || command -v valkey-server) already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "redis-ci: not root and no sudo; install redis-server yourself" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends redis-server
# The Debian package enables a system service; the tests do not use it (they start their
# own servers), so stop it where a service manager is running, to free port 6379.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi
echo "redis-ci: installed $(command -v redis-server) ($(redis-server --version))"
