#!/usr/bin/env bash
# Usage: scripts/e2e-user.sh USER        (as root)
#
# Prepares this machine and USER for the rootless podman end-to-end tests:
#   - USER exists (useradd -m), with 65536 subordinate UIDs and GIDs;
#   - /run/user/UID exists (no logind here to create it); podman keeps its
#     runtime state there;
#   - USER's storage uses the overlay driver (Debian's podman otherwise falls
#     back to vfs, which copies every layer), runtime runc (crun cannot run on
#     cgroup v1 hybrid hosts), and ~/.config/cni/net.d exists (the infra
#     container mounts it as /etc/cni/net.d);
#   - /dev/net/tun is usable by everyone (slirp4netns opens it as USER);
#   - rootful podman gets runc and default ulimits within root's hard limits
#     (root lacks CAP_SYS_RESOURCE here, so podman's defaults fail setrlimit).
#
# Idempotent and quiet: a second run changes nothing and prints nothing.
# To run podman as USER afterwards (what the tests do):
#   runuser -u USER -- env -i HOME=/home/USER USER=USER LOGNAME=USER \
#     PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
#     XDG_RUNTIME_DIR=/run/user/UID podman ...
set -euo pipefail

readonly SUBID_COUNT=65536
readonly SUBID_MIN=100000
readonly USER_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin
readonly ROOT_DROPIN=/etc/containers/containers.conf.d/50-rootless-cni-infra.conf

die() { echo "Error: $*" >&2; exit 1; }

if (($# != 1)) || [[ "$1" == -* ]]; then
  die "usage: $0 USER"
fi
[[ "$(id -u)" == 0 ]] || die "$0 needs root"
user="$1"
[[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "not a valid user name: $user"

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --user-group --shell /bin/bash "$user"
fi
uid="$(id -u "$user")"
gid="$(id -g "$user")"
home="$(getent passwd "$user" | cut -d: -f6)"
[[ "$uid" != 0 ]] || die "$user is root; rootless podman needs a regular user"
[[ -d "$home" ]] || die "home directory of $user does not exist: $home"

as_user() {
  runuser -u "$user" -- env -i -C / HOME="$home" USER="$user" LOGNAME="$user" \
    PATH="$USER_PATH" XDG_RUNTIME_DIR="/run/user/$uid" "$@"
}

# Writes stdin to FILE unless it already holds exactly that. Done as USER for
# files in USER's home, so root never follows links the user controls there.
write_if_changed() {
  local owner="$1" file="$2" content
  content="$(cat)"
  if [[ -f "$file" && "$(cat "$file")" == "$content" ]]; then
    return 0
  fi
  if [[ "$owner" == root ]]; then
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file.tmp.$$"
    chmod 0644 "$file.tmp.$$"
    mv -f "$file.tmp.$$" "$file"
  else
    # shellcheck disable=SC2016 # expanded by the inner sh
    printf '%s\n' "$content" \
      | as_user sh -c 'umask 022 && mkdir -p "$(dirname "$1")" && cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"' sh "$file"
  fi
}

# Subordinate IDs: enough for a whole Debian image (nobody is 65534). Entries
# may name the user or its UID; a new range starts after every existing one.
changed_subids=0
ensure_subids() {
  local file="$1" flag="$2" have next
  have="$(awk -F: -v u="$user" -v n="$uid" '$1 == u || $1 == n { c += $3 } END { print c + 0 }' "$file")"
  ((have >= SUBID_COUNT)) && return 0
  next="$(awk -F: -v min="$SUBID_MIN" 'BEGIN { m = min } $2 + $3 > m { m = $2 + $3 } END { print m }' "$file")"
  usermod "$flag" "$next-$((next + SUBID_COUNT - 1))" "$user"
  changed_subids=1
}
for f in /etc/subuid /etc/subgid; do
  [[ -e "$f" ]] || install -m 0644 /dev/null "$f"
done
ensure_subids /etc/subuid --add-subuids
ensure_subids /etc/subgid --add-subgids

run_dir="/run/user/$uid"
if [[ ! -d "$run_dir" ]]; then
  mkdir -p /run/user
  install -d -o "$uid" -g "$gid" -m 0700 "$run_dir"
elif [[ "$(stat -c '%u:%g:%a' "$run_dir")" != "$uid:$gid:700" ]]; then
  chown "$uid:$gid" "$run_dir"
  chmod 0700 "$run_dir"
fi

if [[ -c /dev/net/tun && "$(stat -c '%a' /dev/net/tun)" != 666 ]]; then
  chmod 0666 /dev/net/tun
fi

write_if_changed root "$ROOT_DROPIN" <<'EOF'
# Written by rootless-cni-infra's scripts/e2e-user.sh.
# crun fails on cgroup v1 hybrid hosts; runc works.
[engine]
runtime = "runc"

# root lacks CAP_SYS_RESOURCE and has a hard nofile limit of 20000, so podman's
# default ulimits fail setrlimit in rootful containers.
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=4096:4096"]
EOF

# Before USER's first podman command: storage.conf decides the driver for good.
write_if_changed "$user" "$home/.config/containers/storage.conf" <<'EOF'
# Written by rootless-cni-infra's scripts/e2e-user.sh: without it Debian's
# rootless podman falls back to vfs, which copies every layer.
[storage]
driver = "overlay"
EOF
write_if_changed "$user" "$home/.config/containers/containers.conf" <<'EOF'
# Written by rootless-cni-infra's scripts/e2e-user.sh: crun fails on cgroup v1
# hybrid hosts; runc works.
[engine]
runtime = "runc"
EOF
[[ -d "$home/.config/cni/net.d" ]] || as_user mkdir -p "$home/.config/cni/net.d"

# Storage created before storage.conf (by an earlier podman command) keeps its
# vfs driver: only a reset switches it. Podman records the driver in
# storage/libpod/bolt_state.db, but the driver's directory tells us without
# running podman (which takes a while) on the common path.
storage="$home/.local/share/containers/storage"
if [[ -d "$storage" ]]; then
  driver=overlay
  for d in vfs btrfs zfs devmapper; do
    [[ -d "$storage/$d" ]] && driver="$d"
  done
  if [[ "$driver" != overlay || ! -d "$storage/overlay" ]]; then
    driver="$(as_user podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null || echo unknown)"
  fi
  if [[ "$driver" != overlay ]]; then
    echo "Resetting $user's podman storage (driver $driver, want overlay)" >&2
    # The reset removes the whole storage directory (so nothing is left to
    # migrate); the next podman command recreates it with overlay.
    as_user podman system reset -f >/dev/null 2>&1 || true
    driver="$(as_user podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null || echo unknown)"
    [[ "$driver" == overlay ]] || die "$user's podman storage still uses $driver after a reset"
    changed_subids=0
  fi
fi
# New subordinate IDs reach an existing pause process only after a migrate.
if ((changed_subids)) && [[ -d "$storage" ]]; then
  as_user podman system migrate >/dev/null 2>&1
fi
