#!/usr/bin/env bash
# Builds the foreign Debian roots the resolver's oracle tests compare against (elf-deps'
# roots.test.ts): each root's own loader, run in a chroot (trixie) or under qemu-user (arm64,
# s390x), is the oracle for `elfcopy deps --list --root ROOT`.
#
# The roots live outside the clone, in $ELFCOPY_TEST_ROOTS (default /var/cache/elfcopy/test-roots),
# one directory per root named NAME-KEY, where KEY hashes the root's recipe (suite, architecture,
# variant, package list) below: a changed recipe builds a new root and removes the stale one. A root is
# built into NAME.tmp.* and renamed into place only when complete, so a killed build leaves nothing a
# test would mistake for a root.
#
# Usage: scripts/test-roots.sh [NAME...]   (default: every root)
set -euo pipefail

dir="${ELFCOPY_TEST_ROOTS:-/var/cache/elfcopy/test-roots}"
mirror="${ELFCOPY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# name | suite | architecture | variant (+merged-usr: make the /usr links) | qemu binary ('-' when the host runs it) | packages
# Small on purpose: minbase (or the few packages an extract root needs) plus programs that bring
# libraries with their own dependency chains (openssl, curl's TLS/HTTP2/Kerberos stack, iproute2).
recipes=(
  "trixie-amd64|trixie|amd64|minbase|-|openssl,curl,iproute2,procps,zstd,libcap2-bin"
  "bookworm-arm64|bookworm|arm64|extract|qemu-aarch64-static|libc-bin,libc6,bash,coreutils,dash,openssl,curl,iproute2,procps,zstd"
  "bookworm-s390x|bookworm|s390x|extract|qemu-s390x-static|libc-bin,libc6,bash,coreutils,dash,openssl,curl,iproute2,procps,zstd"
  # Only libc and a few programs: these check the architecture table's rows against their own loader.
  "bookworm-armhf|bookworm|armhf|extract|qemu-arm-static|libc-bin,libc6,dash,coreutils,zlib1g"
  "bookworm-ppc64el|bookworm|ppc64el|extract|qemu-ppc64le-static|libc-bin,libc6,dash,coreutils,zlib1g"
  # trixie's packages ship /lib in /usr only: an extract root needs the merged-/usr links made for it.
  "trixie-riscv64|trixie|riscv64|extract+merged-usr|qemu-riscv64-static|libc-bin,libc6,dash,coreutils,zlib1g"
)

want=("$@")
mkdir -p "$dir"
# One build at a time (two CI runs on one machine): the second waits, then finds the roots up to date.
exec 9>"$dir/.lock"
flock 9

build_one() {
  local name=$1 suite=$2 arch=$3 variant=$4 qemu=$5 pkgs=$6
  local key final tmp
  key=$(printf '%s\n' "v1" "$suite" "$arch" "$variant" "$qemu" "$pkgs" | sha256sum | cut -c1-16)
  final="$dir/$name-$key"
  if [ -e "$final/.complete" ]; then
    echo "test-roots: $name is up to date ($final)"
    return 0
  fi
  tmp=$(mktemp -d "$dir/$name.tmp.XXXXXX")
  echo "test-roots: building $name ($suite $arch $variant) into $final"
  local hooks=()
  case "$variant" in *+merged-usr) hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr) ;; esac
  mmdebstrap --quiet --variant="${variant%+merged-usr}" --architectures="$arch" --include="$pkgs" \
    --mode=root --format=directory "${hooks[@]}" \
    "$suite" "$tmp" "$mirror"
  if [ "$qemu" != - ]; then
    # The root's own ldconfig (static) writes its ld.so.cache; an extract root never ran it.
    cp "/usr/bin/$qemu" "$tmp/$qemu"
    chroot "$tmp" "/$qemu" /sbin/ldconfig
  else
    chroot "$tmp" /sbin/ldconfig
  fi
  printf '%s\n' "$suite" "$arch" "$variant" "$qemu" "$pkgs" > "$tmp/.recipe"
  touch "$tmp/.complete"
  mv -T "$tmp" "$final"
  # Older builds of this root (another recipe) are stale now.
  local old
  for old in "$dir/$name"-*; do
    [ "$old" = "$final" ] && continue
    case "$old" in "$dir/$name"-????????????????) rm -rf --one-file-system -- "$old" ;; esac
  done
}

status=0
for r in "${recipes[@]}"; do
  IFS='|' read -r name suite arch variant qemu pkgs <<<"$r"
  if [ "${#want[@]}" -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then continue; fi
  # A half-built root from a killed run.
  rm -rf --one-file-system -- "$dir/$name".tmp.*
  if ! build_one "$name" "$suite" "$arch" "$variant" "$qemu" "$pkgs"; then
    echo "test-roots: building $name failed" >&2
    status=1
  fi
done
exit "$status"
