#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, when
# any is missing. Idempotent; needs root only when something must be installed.
set -euo pipefail

PACKAGES=(
  containernetworking-plugins   # the real CNI plugins (/usr/lib/cni)
  golang-github-containernetworking-plugin-dnsname dnsmasq-base
  iproute2 iptables util-linux procps   # ip, iptables, unshare/nsenter/flock, ps
  podman runc slirp4netns uidmap fuse-overlayfs   # rootless podman for the e2e tests
  mmdebstrap ca-certificates     # the offline base image
  time                           # benchmarks: peak RSS with /usr/bin/time
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "Error: missing Debian packages: ${missing[*]}; run 'make setup' as root (or apt-get install them)" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
