#!/usr/bin/env bash
# Installs every build and test dependency of baton from Debian packages.
# Idempotent: when everything is present it only checks with dpkg and exits.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # control plane and libraries
  libcaf-dev libcaf-openssl0.17 libasio-dev nlohmann-json3-dev libssl-dev libnetfilter-queue-dev
  doctest-dev libcli11-dev libspdlog-dev libzstd-dev
  # AF_XDP sockets (net/io/af_xdp_port.cpp): libxdp's xsk API and default XDP program, over libbpf
  libxdp-dev libbpf-dev
  # the rim service's origin responses (node's http_parser)
  libhttp-parser-dev
  # fuzzing (libFuzzer ships with clang's runtime)
  clang libclang-rt-dev
  # lab: namespaces, real peers, packet tools
  iproute2 iputils-ping nftables iptables curl python3 python3-scapy tshark
  iperf3 nginx-light ethtool procps psmisc openssl docker-compose
  # docker-compose.yml run for real without a Docker engine (deploy/compose/podman-up.sh)
  podman runc catatonit busybox-static
  # benchmarks: the VRRP failover baseline the cluster is compared against
  keepalived
  # the web console's lab test (tests/lab/test_console_web): headless Chromium
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
