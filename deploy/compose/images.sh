#!/usr/bin/env bash
# Builds the images docker-compose.yml names, without a registry, with docker or podman:
#   localhost/baton-base:latest  busybox-static as a root file system (`import`, no FROM at all);
#   localhost/baton:latest       FROM localhost/baton-base: batond and batonctl from a build tree,
#                                iproute2's ip, ethtool, curl and Debian's python3 (with its
#                                standard library), each with the shared libraries `ldd` lists, and
#                                the repository's deploy/ files under /opt/baton.
# Usage: deploy/compose/images.sh [ENGINE [BUILD_DIR]]   ENGINE docker (default) or podman;
#        BUILD_DIR the tree holding actors/batond (default build/). Needs busybox-static, iproute2,
#        ethtool, curl and python3 on this machine (Debian 12 packages): what runs in the image is
#        this machine's binaries. Rebuilding replaces both tags.
set -euo pipefail
engine="${1:-docker}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${2:-$repo/build}" && pwd)"
busybox=/bin/busybox
for f in "$build/actors/batond" "$build/actors/console/batonctl"; do
  [ -x "$f" ] || { echo "images.sh: $f is missing; build it first:" \
    "cmake --build build --target batond batonctl" >&2; exit 1; }
done
case "$(ldd "$busybox" 2>&1 || true)" in *'not a dynamic'*) ;; *) false ;; esac \
  || { echo "images.sh: $busybox is not static; install busybox-static" >&2; exit 1; }

image_id() { "$engine" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
old_base="$(image_id localhost/baton-base:latest)" old_baton="$(image_id localhost/baton:latest)"

work="$(mktemp -d /tmp/baton-images.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# ---- the base: busybox and its applets as symbolic links, nothing else ----
base="$work/base"
mkdir -p "$base"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,run,var/www}
cp "$busybox" "$base/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$base/$applet" ] || ln -s /bin/busybox "$base/$applet"
done
chmod 1777 "$base/tmp"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$base/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$base/etc/group"
tar -C "$base" --numeric-owner --owner=0 --group=0 -c . \
  | "$engine" import --change 'CMD ["/bin/sh"]' - localhost/baton-base:latest >/dev/null

# ---- baton: binaries staged with their libraries (the paths ldd prints) ----
root="$work/ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/opt/baton"
libs() {  # libs FILE: every shared library FILE loads, at the path ldd names
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\//{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
  done
}
stage() {  # stage SOURCE NAME: the binary as /usr/local/bin/NAME, and its libraries
  cp -L "$1" "$root/usr/local/bin/$2"
  # RelWithDebInfo's debug sections are most of batond's 100 MB; the image needs none of them.
  if command -v strip >/dev/null; then strip --strip-debug "$root/usr/local/bin/$2"; fi
  libs "$1"
}
stage "$build/actors/batond" batond
stage "$build/actors/console/batonctl" batonctl
stage "$(command -v ip)" ip          # iproute2: neigh replace, -j, route ... dev; busybox's lacks them
stage "$(command -v ethtool)" ethtool
stage "$(command -v curl)" curl      # --local-port, --limit-rate; busybox wget has neither
# Debian's python3 and its standard library (no dist-packages): the lab's backends and hello.json's
# server run `python3 -m http.server`. It stays at /usr/bin so it finds /usr/lib/python3.X.
py="$(readlink -f /usr/bin/python3)"
pylib="/usr/lib/$(basename "$py")"
mkdir -p "$root/usr/bin" "$root/usr/lib"
cp "$py" "$root$py"
ln -sf "$(basename "$py")" "$root/usr/bin/python3"
libs "$py"
tar -C /usr/lib --exclude="$(basename "$py")/test" --exclude='*/idlelib' --exclude='*/tkinter' \
    --exclude='*/ensurepip' -c "$(basename "$py")" | tar -C "$root/usr/lib" -x
for so in "$root$pylib"/lib-dynload/*.so; do libs "$so"; done
# What the compose services name under /opt/baton (as deploy/Dockerfile's WORKDIR).
mkdir -p "$root/opt/baton/deploy"
cp -r "$repo/deploy/examples" "$repo/deploy/topologies" "$repo/deploy/compose" "$root/opt/baton/deploy/"
rm -rf "$root/opt/baton/deploy/compose/certs"
cp "$repo/deploy/compose/Dockerfile" "$work/ctx/Dockerfile"
fmt=()
[ "$engine" = podman ] && fmt=(--format docker)  # OCI images drop HEALTHCHECK
"$engine" build "${fmt[@]}" -q -t localhost/baton:latest "$work/ctx" >/dev/null
# The images these tags named before are dropped unless a container still uses them.
for old in "$old_baton" "$old_base"; do
  [ -z "$old" ] || [ "$old" = "$(image_id localhost/baton:latest)" ] \
    || [ "$old" = "$(image_id localhost/baton-base:latest)" ] || "$engine" rmi "$old" >/dev/null 2>&1 || true
done
echo "images.sh: built localhost/baton-base:latest and localhost/baton:latest with $engine" \
     "from $build"
