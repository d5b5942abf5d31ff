#!/usr/bin/env bash
# Usage: scripts/base-image.sh [--rootless-user USER]
#
# Makes sure docker.io/library/debian:bookworm-slim (the Containerfile's base)
# is in podman's storage: root's, or USER's rootless storage when given.
#
# No container registry is reachable on the machines this project is built on,
# so instead of pulling we build an equivalent rootfs with mmdebstrap from the
# Debian mirror this machine's apt uses, and `podman import` it under the
# upstream name; `FROM docker.io/library/debian:bookworm-slim` then resolves
# locally. The rootfs tarball is built once into .cache/base/ and reused for
# every storage (root and each rootless user have their own). Delete
# .cache/base/ to rebuild it (e.g. to pick up Debian point releases).
#
# --pull first tries a real `podman pull` (bounded by a timeout), for machines
# that do reach docker.io; without it the script never contacts a registry.
#
# Idempotent: when the image already exists, it does nothing (one
# `podman image exists`). Root only when building the tarball or acting for
# another user. For a rootless user, run scripts/e2e-user.sh USER first: the
# user's first podman command must already see its overlay storage.conf.
set -euo pipefail

readonly IMAGE=docker.io/library/debian:bookworm-slim
readonly SUITE=bookworm
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT_DIR
readonly CACHE_DIR="$ROOT_DIR/.cache/base"
readonly USER_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

die() { echo "Error: $*" >&2; exit 1; }

user=""
pull=0
while (($#)); do
  case "$1" in
    --rootless-user) (($# >= 2)) || die "--rootless-user needs a user name"; user="$2"; shift 2 ;;
    --rootless-user=*) user="${1#*=}"; shift ;;
    --pull) pull=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (usage: $0 [--rootless-user USER] [--pull])" ;;
  esac
done

# podman as the target user with a clean, login-like environment: no root
# variables leak in, and XDG_RUNTIME_DIR points at the directory
# scripts/e2e-user.sh prepared (there is no logind to create it).
if [[ -n "$user" ]]; then
  [[ "$(id -u)" == 0 ]] || die "--rootless-user needs root"
  uid="$(id -u "$user" 2>/dev/null)" || die "no such user: $user (create it with scripts/e2e-user.sh $user)"
  home="$(getent passwd "$user" | cut -d: -f6)"
  [[ -f "$home/.config/containers/storage.conf" && -d "/run/user/$uid" ]] \
    || die "user $user is not prepared for rootless podman; run scripts/e2e-user.sh $user first"
  podman_cmd=(runuser -u "$user" -- env -i -C / HOME="$home" USER="$user" LOGNAME="$user"
    PATH="$USER_PATH" XDG_RUNTIME_DIR="/run/user/$uid" podman)
else
  podman_cmd=(podman)
fi
podman_() { "${podman_cmd[@]}" "$@"; }

if podman_ image exists "$IMAGE"; then
  exit 0
fi

if ((pull)); then
  if timeout 120 "${podman_cmd[@]}" pull -q "$IMAGE" >/dev/null; then
    exit 0
  fi
  echo "Pulling $IMAGE failed; building it from Debian's archive instead" >&2
fi

# Prints one-line apt entries ("deb URI SUITE COMPONENTS...") for this
# machine's Debian archive mirrors of $SUITE (release, -updates, -security),
# read from both sources.list styles. Third-party repositories (other suites)
# and disabled files are left out, so the image only knows Debian.
debian_mirrors() {
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) && awk '
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
      line = $i " " $(i + 1)
      for (j = i + 2; j <= NF && $j !~ /^#/; j++) line = line " " $j
      print line
    }' "${files[@]}" 2>/dev/null
  files=()
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) && awk '
    function flush(   n, m, a, b, U, S) {
      if (f["types"] ~ /(^| )deb( |$)/ && tolower(f["enabled"]) != "no") {
        n = split(f["uris"], U, " "); m = split(f["suites"], S, " ")
        for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print U[a], S[b], f["components"]
      }
      delete f; key = ""
    }
    FNR == 1 { flush() }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }
    {
      key = tolower(substr($0, 1, index($0, ":") - 1))
      f[key] = substr($0, index($0, ":") + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", f[key])
    }
    END { flush() }' "${files[@]}"
  return 0
}

build_tarball() {
  local tar="$1" mirrors=() uri suite components https=0 tmpdir
  while read -r uri suite components; do
    [[ "$suite" =~ ^$SUITE(-updates|-security)?$ ]] || continue
    [[ "$uri" == https://* ]] && https=1
    mirrors+=("deb $uri $suite ${components:-main}")
  done < <(debian_mirrors | tr -s ' \t' '  ' | awk '!seen[$0]++')
  # With no mirror argument mmdebstrap uses deb.debian.org plus updates and
  # security itself: the right fallback for a machine without Debian sources.
  local extra=()
  ((https)) && extra+=(--include=ca-certificates)

  mkdir -p "$CACHE_DIR"
  tmpdir="$(mktemp -d "$CACHE_DIR/.build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: tmpdir is local
  trap "rm -rf '$tmpdir'" EXIT
  trap 'exit 1' INT TERM HUP
  echo "Building the $IMAGE rootfs with mmdebstrap (once; cached in ${tar#"$ROOT_DIR/"})" >&2
  # --variant=apt: Essential + apt, like the official image. The merged-usr hook
  # keeps usrmerge (and perl) out. The dpkg path-excludes are written into the
  # image, so later apt-get installs stay slim too. mmdebstrap's cleanup drops
  # apt lists and caches.
  # Its output (and its hooks') goes to a log shown only on failure.
  if ! mmdebstrap --variant=apt --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "${extra[@]}" \
    "$SUITE" "$tmpdir/rootfs.tar" "${mirrors[@]}" >"$tmpdir/mmdebstrap.log" 2>&1; then
    tail -n 40 "$tmpdir/mmdebstrap.log" >&2
    die "mmdebstrap failed (output above)"
  fi
  mv -f "$tmpdir/rootfs.tar" "$tar"
  rm -rf "$tmpdir"
  trap - EXIT INT TERM HUP
}

# One build at a time: concurrent callers (parallel test workers, a second
# make) wait here, then find the tarball or the image already there.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.lock"
flock 9
if podman_ image exists "$IMAGE"; then
  exit 0
fi

tar="$CACHE_DIR/debian-$SUITE-slim-$(dpkg --print-architecture).tar"
[[ -s "$tar" ]] || build_tarball "$tar"

# The tarball goes in on stdin, so the user needs no access to the project tree.
# CMD and PATH as in the official image (an imported image has no config).
podman_ import --quiet \
  --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "mmdebstrap $SUITE rootfs (scripts/base-image.sh)" \
  - "$IMAGE" <"$tar" >/dev/null
echo "Imported $IMAGE into ${user:-root}'s podman storage" >&2
