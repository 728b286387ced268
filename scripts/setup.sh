#!/usr/bin/env bash
# Set up a fresh Debian machine for Tugi: system packages, the Python package with its test
# extras, PostgreSQL (started if it is not answering), and the Asterisk 22 root (built once,
# cached in ~/.cache/tugi). Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v sipp >/dev/null || need_apt+=(sip-tester)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)  # bench/call_setup.py times SIP on the wire
command -v chromium >/dev/null || need_apt+=(chromium)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v pg_isready >/dev/null || need_apt+=(postgresql postgresql-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "setup: starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[test,postgres]'

python3 -m tugi.local_asterisk
