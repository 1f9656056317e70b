#!/bin/bash
# Fetches Slurm 24.11's C headers (Debian trixie's libslurm-dev) into build/slurm-24.11/, headers only, so the plugin
# can be compiled against a newer Slurm than the one installed. Uses the Debian mirror this machine already has,
# with a private apt state under build/ (the system's apt configuration is not touched).
#   scripts/slurm-24.11-headers.sh [OUTDIR]     prints the include directory on success
# Exit codes: 0 done (or already there), 1 download or unpack failed (message on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/slurm-24.11}
include=$out/usr/include
if [ -f "$include/slurm/spank.h" ]; then echo "$PWD/$include"; exit 0; fi

err() { echo "slurm-24.11-headers: $*" >&2; exit 1; }
# The Debian mirror already configured (deb822 or one-line format); deb.debian.org if none is found.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\(http[^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || err "$keyring is missing (package debian-archive-keyring)"

apt_dir=$out/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
echo "deb [signed-by=$keyring] $mirror trixie main" >"$apt_dir/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$PWD/$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$PWD/$apt_dir/lists" -o Dir::Cache="$PWD/$apt_dir/cache"
          -o Dir::State::Status=/dev/null -o APT::Sandbox::User=root -o Debug::NoLocking=1 -qq)
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
    err "apt-get update for trixie from $mirror failed: $(tail -3 "$apt_dir/update.log" | tr '\n' ' ')"
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download libslurm-dev) >"$apt_dir/download.log" 2>&1 ||
    err "apt-get download libslurm-dev (trixie) failed: $(tail -3 "$apt_dir/download.log" | tr '\n' ' ')"
deb=$(ls "$apt_dir"/debs/libslurm-dev_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || err "no libslurm-dev .deb was downloaded"

unpack=$apt_dir/unpack
dpkg-deb -x "$deb" "$unpack"
[ -f "$unpack/usr/include/slurm/spank.h" ] || err "$deb has no usr/include/slurm/spank.h"
mkdir -p "$include"
cp -r "$unpack/usr/include/slurm" "$include/"
rm -rf "$unpack" "$apt_dir/lists" "$apt_dir/cache"
echo "$(basename "$deb")" >"$out/SOURCE"
echo "$PWD/$include"
