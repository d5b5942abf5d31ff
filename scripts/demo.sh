#!/usr/bin/env bash
# The main job, on the built-in default network `podman`, with real rootless
# podman: as an unprivileged user (default rcni-demo, created if missing),
#   1. build the infra image into that user's storage (offline),
#   2. allocate two containers' network namespaces through the host shim
#      (`rootless-cni alloc`, which creates the infra container),
#   3. run two workloads in them with `podman run --network ns:PATH`,
#   4. show their addresses and a connection from one to the other across the
#      bridge (TCP, and a DNS answer from the first one's server),
#   5. deallocate: the infra container goes away once idle.
# Run as root (it prepares the user): `make demo`.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_USER="${ROOTLESS_CNI_DEMO_USER:-rcni-demo}"
NETWORK=podman

die() { echo "Error: $*" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || die "run the demo as root: it prepares the user $DEMO_USER for rootless podman"
[[ -x "$ROOT_DIR/dist/rootless-cni" ]] || die "dist/rootless-cni is missing; run 'make build' first"

"$ROOT_DIR/scripts/e2e-user.sh" "$DEMO_USER"
"$ROOT_DIR/scripts/build-image.sh" --user "$DEMO_USER" >/dev/null

uid="$(id -u "$DEMO_USER")"
home="$(getent passwd "$DEMO_USER" | cut -d: -f6)"
# The project tree may not be readable by the user: give it a copy of the shim.
shim_dir="$(mktemp -d /tmp/rootless-cni-demo.XXXXXX)"
cp "$ROOT_DIR/dist/rootless-cni" "$ROOT_DIR/dist/package.json" "$shim_dir/"
chmod 0755 "$shim_dir"

as_user() {
  runuser -u "$DEMO_USER" -- env -i -C / HOME="$home" USER="$DEMO_USER" LOGNAME="$DEMO_USER" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin XDG_RUNTIME_DIR="/run/user/$uid" "$@"
}
shim() { as_user node "$shim_dir/rootless-cni" "$@"; }
podman_() { as_user podman "$@" 2> >(grep -v 'is not a shared mount' >&2); }
field() { node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(eval("d."+process.argv[1]))' "$1"; }

cleanup() {
  podman_ rm -f -t 0 demo-a demo-b >/dev/null 2>&1 || true
  shim rm --force >/dev/null 2>&1 || true
  rm -rf "$shim_dir"
}
trap cleanup EXIT

start_ms=$(( $(date +%s%N) / 1000000 ))
echo "== rootless-cni alloc, as $DEMO_USER (uid $uid), on network \"$NETWORK\""
a="$(shim alloc demo-a "$NETWORK")"
b="$(shim alloc demo-b "$NETWORK")"
a_ns="$(field ns <<<"$a")"; b_ns="$(field ns <<<"$b")"
a_ip="$(field 'result.ips[0].address' <<<"$a")"; b_ip="$(field 'result.ips[0].address' <<<"$b")"
echo "demo-a: $a_ip  (netns $a_ns)"
echo "demo-b: $b_ip  (netns $b_ns)"

image="$(shim status | field image)"
echo "== podman run --network ns:PATH ($image)"
podman_ run -d --name demo-a --network "ns:$a_ns" "$image" \
  dnsmasq --keep-in-foreground --port=53 --no-resolv --no-hosts --user=root \
  --host-record="demo-a.example,${a_ip%/*}" >/dev/null
podman_ run -d --name demo-b --network "ns:$b_ns" --dns "${a_ip%/*}" "$image" sleep infinity >/dev/null

echo "== demo-b -> demo-a across the bridge"
podman_ exec demo-b bash -c "
  for i in \$(seq 50); do (: <>/dev/tcp/${a_ip%/*}/53) 2>/dev/null && break; sleep 0.1; done
  if (: <>/dev/tcp/${a_ip%/*}/53) 2>/dev/null; then echo \"TCP connection from ${b_ip%/*} to ${a_ip%/*}:53: ok\"; else echo 'TCP connection: FAILED'; exit 1; fi
  read -r ip _ < <(getent hosts demo-a.example) || true
  [[ \"\$ip\" == ${a_ip%/*} ]] && echo \"DNS answer from demo-a's server: demo-a.example = \$ip\" || { echo 'DNS answer: FAILED'; exit 1; }
"

echo "== cleanup"
podman_ rm -f -t 0 demo-a demo-b >/dev/null
shim dealloc demo-a "$NETWORK" >/dev/null
removed="$(shim dealloc demo-b "$NETWORK")"
echo "deallocated both; infra container removed: $(field 'infraRemoved === true' <<<"$removed")"
echo "done in $(( $(date +%s%N) / 1000000 - start_ms )) ms"
