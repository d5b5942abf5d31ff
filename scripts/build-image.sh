#!/usr/bin/env bash
# Usage: scripts/build-image.sh [--user USER] [--protocol-version N]
#
# Builds the infra container image from Containerfile and dist/rootless-cni-infra
# (run `make build` first; `make image` does both) as
#   localhost/rootless-cni-infra:N-ARCH  and  localhost/rootless-cni-infra:latest
# in root's podman storage, or with --user in USER's rootless storage (as root;
# prepare USER first with scripts/e2e-user.sh USER). Each storage is separate:
# the rootless e2e tests need the image in their user's storage.
#
# Offline: scripts/base-image.sh provides the Debian base image in the same
# storage first, and the build never pulls (--pull=never); only its apt-get
# reaches the Debian archive, and that layer is cached by podman until the
# Containerfile changes, so a rebuild after `make build` only redoes the COPY.
#
# The build context is a fresh temporary directory holding just the
# Containerfile and a copy of the agent, not the project tree. The copy is a
# snapshot: the binary checked below is the one that goes into the image, even
# if a concurrent `make build` rewrites dist/ meanwhile. And USER never needs to
# read or traverse the project tree (node_modules, .cache, a home directory
# with mode 0700...). (.containerignore keeps a manual `podman build .` from
# the project tree just as small.)
#
# N defaults to PROTOCOL_VERSION in common/src/version.ts and must be what the agent's
# `version` command prints, so the image's tag and labels cannot disagree with
# the agent inside. The image the tags pointed at before is removed when
# nothing else uses it, so repeated builds do not pile up 120 MB layers.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT_DIR
readonly AGENT="$ROOT_DIR/dist/rootless-cni-infra"
readonly REPO=localhost/rootless-cni-infra
readonly USER_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

die() { echo "Error: $*" >&2; exit 1; }

user=""
version=""
while (($#)); do
  case "$1" in
    --user) (($# >= 2)) || die "--user needs a user name"; user="$2"; shift 2 ;;
    --user=*) user="${1#*=}"; shift ;;
    --protocol-version) (($# >= 2)) || die "--protocol-version needs a value"; version="$2"; shift 2 ;;
    --protocol-version=*) version="${1#*=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (usage: $0 [--user USER] [--protocol-version N])" ;;
  esac
done

[[ -x "$AGENT" ]] || die "$AGENT is missing; run 'make build' first"
if [[ -z "$version" ]]; then
  version="$(sed -n "s/^export const PROTOCOL_VERSION = '\([0-9][0-9]*\)';\$/\1/p" "$ROOT_DIR/common/src/version.ts")"
  [[ -n "$version" ]] || die "no PROTOCOL_VERSION in $ROOT_DIR/common/src/version.ts; pass --protocol-version"
fi
[[ "$version" =~ ^[0-9]+$ ]] || die "protocol version must be an integer: $version"

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) arch="$(podman info --format '{{.Host.Arch}}')" ;;
esac

if [[ -n "$user" ]]; then
  [[ "$(id -u)" == 0 ]] || die "--user needs root"
  uid="$(id -u "$user" 2>/dev/null)" || die "no such user: $user (create it with scripts/e2e-user.sh $user)"
  home="$(getent passwd "$user" | cut -d: -f6)"
  podman_() {
    runuser -u "$user" -- env -i -C / HOME="$home" USER="$user" LOGNAME="$user" \
      PATH="$USER_PATH" XDG_RUNTIME_DIR="/run/user/$uid" podman "$@"
  }
  base_args=(--rootless-user "$user")
else
  podman_() { podman "$@"; }
  base_args=()
fi

# In /tmp, not $TMPDIR: USER must be able to reach it.
context="$(mktemp -d /tmp/rootless-cni-infra-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
trap 'exit 1' INT TERM HUP
mkdir "$context/dist"
cp "$ROOT_DIR/Containerfile" "$context/Containerfile"
cp "$AGENT" "$context/dist/rootless-cni-infra"
chmod -R a+rX "$context"

agent_output="$(cd / && env -i "$context/dist/rootless-cni-infra" version)" \
  || die "$AGENT does not run (is a 'make build' running, or did it fail?)"
[[ "$agent_output" == *"\"version\":\"$version\""* ]] \
  || die "the agent reports $agent_output but the image would be labelled protocol version $version"

"$ROOT_DIR/scripts/base-image.sh" "${base_args[@]}"

previous="$(podman_ image inspect --format '{{.Id}}' "$REPO:latest" 2>/dev/null || true)"

podman_ build --pull=never \
  -f "$context/Containerfile" \
  --build-arg "ROOTLESS_CNI_INFRA_VERSION=$version" \
  -t "$REPO:$version-$arch" \
  -t "$REPO:latest" \
  "$context"

current="$(podman_ image inspect --format '{{.Id}}' "$REPO:latest")"
if [[ -n "$previous" && "$previous" != "$current" ]]; then
  # Fails, harmlessly, while a container uses it or another tag still names it.
  podman_ rmi "$previous" >/dev/null 2>&1 || true
fi
echo "Built $REPO:$version-$arch and $REPO:latest (${current:0:12}) in ${user:-root}'s podman storage" >&2
