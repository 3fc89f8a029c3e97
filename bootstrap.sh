#!/usr/bin/env bash
# Set up everything egov needs on a fresh Debian 12 machine, as root:
# Debian packages (FRR, net-snmp, OpenSSH, nftables, iproute2, ...), a .venv in
# the repo root with egov installed (editable) and its test tools.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3-venv
  frr frr-pythontools            # routers: vtysh -C checks rendered configs; the lab runs them
  snmpd snmp                     # per-router SNMPv3 agents and the client tools
  openssh-server                 # per-router management SSH
  iproute2 nftables iperf3 socat netcat-openbsd iputils-ping fping
  git                            # the versioned backup store of running configs
  openssl                        # tests cross-check the Junos sha512-crypt hash with openssl passwd -6
  chromium                       # tests open the offline SLA report (headless screenshot)
  prometheus                     # promtool checks and unit-tests exporters/rules; the lab test's Prometheus
  prometheus-snmp-exporter       # the reference SNMP poller bench/poll.py measures egov's against
  frr-snmp                       # FRR's AgentX SNMP support: the lab's IS-IS MIB (egov_isis_adjacency_up)
  lldpd                          # LLDP on the lab's routers (the NOC getter get_lldp_neighbors)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: need root to install: ${missing[*]}; fix: run as root (sudo ./bootstrap.sh)" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # egov runs its own per-router daemons; the packages' system-wide services stay off
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now frr snmpd lldpd prometheus prometheus-snmp-exporter >/dev/null 2>&1 || true
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PY --version 2>&1)"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import egov, pytest" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.egov-installed ]; then
  echo "bootstrap: installing egov and its Python dependencies into .venv"
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check -U pip \
         && .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,lint]'; } > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "bootstrap: pip install failed (log above, also in .venv/pip.log)" >&2
    exit 1
  fi
  touch .venv/.egov-installed
fi
echo "bootstrap: ready (.venv/bin/egov)"
