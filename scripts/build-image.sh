#!/usr/bin/env bash
# Builds the auditseal container image with buildah, from nothing but this build's own output
# (deploy/Containerfile is FROM scratch), and writes it as an OCI archive that `podman load`,
# `skopeo copy oci-archive:...` and `ctr images import` accept.
#
#   scripts/build-image.sh [OUT.tar] [TAG]      # default .build/image/auditseal.oci.tar, localhost/auditseal:dev
#
# Needs buildah (apt-get install buildah) and root (or a user namespace buildah can use).
# Prints the rootfs size and the archive size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/image/auditseal.oci.tar}
tag=${2:-localhost/auditseal:dev}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# Swift links executables with --export-dynamic (4.5 MB of dynamic symbols nothing here looks up:
# a static Swift runtime finds metadata through its own sections).
swift build -c release --static-swift-stdlib --product auditseal -Xlinker --no-export-dynamic
binary=$(swift build -c release --static-swift-stdlib -Xlinker --no-export-dynamic --show-bin-path)/auditseal

rootfs=$(mktemp -d /tmp/auditseal-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
chmod 0755 "$rootfs"
install -D -m 0755 "$binary" "$rootfs/usr/bin/auditseal"
strip --strip-unneeded "$rootfs/usr/bin/auditseal"

# Exactly the shared libraries the binary loads, at the paths the loader looks for them.
ldd "$binary" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u | while read -r lib; do
  install -D -m 0644 "$(readlink -f "$lib")" "$rootfs$lib"
done
# The loader must be executable.
for loader in "$rootfs"/lib64/ld-linux-*.so.* "$rootfs"/lib/ld-linux*.so.*; do
  [ -e "$loader" ] && chmod 0755 "$loader"
done

install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nauditseal:x:65532:65532:auditseal:/tmp:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nauditseal:x:65532:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
install -d -m 1777 "$rootfs/tmp"
install -d -m 0555 "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
install -d -m 0755 "$rootfs/var/lib/auditseal"
chown 65532:65532 "$rootfs/var/lib/auditseal"

# Nothing missing: the binary starts inside the root filesystem, with only what is in it.
chroot "$rootfs" /usr/bin/auditseal --help >/dev/null

buildah --storage-driver vfs bud --isolation chroot --quiet -f "$PWD/deploy/Containerfile" -t "$tag" "$rootfs" >/dev/null
rm -f "$out"
buildah --storage-driver vfs push --quiet "$tag" "oci-archive:$out:$tag"

echo "image $tag"
echo "rootfs $(du -sb "$rootfs" | cut -f1) bytes ($(du -sh "$rootfs" | cut -f1)), $(find "$rootfs" -type f | wc -l) files"
echo "archive $out $(stat -c %s "$out") bytes"
