#!/bin/bash
# The plugin also builds against Slurm 24.11's headers (Debian trixie's libslurm-dev, fetched by
# scripts/slurm-24.11-headers.sh), exports the same symbols, and carries 24.11's plugin_version: Slurm refuses a
# plugin whose version does not match its own major.minor. Needs no cluster; skipped only if the download fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/ks-slurm2411.XXXXXX")
trap 'rm -rf "$out"' EXIT

if ! include=$(scripts/slurm-24.11-headers.sh 2>"$out/fetch.err"); then
    echo "SKIP: cannot fetch Slurm 24.11 headers: $(cat "$out/fetch.err")"
    exit 77
fi
version_hex=$(sed -n 's/^#define SLURM_VERSION_NUMBER 0x\([0-9a-fA-F]*\).*/\1/p' "$include/slurm/slurm_version.h")
[ "${version_hex:0:4}" = 180b ] || fail "$include is not Slurm 24.11 (SLURM_VERSION_NUMBER 0x$version_hex)"

# Same flags as the Makefile's plugin objects, with the 24.11 headers searched first.
flags=(-Icommon -I"$include" -D_GNU_SOURCE -std=c++2b -O2 -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
       -Wformat=2 -fPIC -fvisibility=hidden)
objs=()
for src in spank_plugin/*.cpp; do
    obj=$out/$(basename "$src" .cpp).o
    g++ "${flags[@]}" -c "$src" -o "$obj" || fail "$src does not compile against Slurm 24.11's headers"
    objs+=("$obj")
done
so=$out/kafka_stream.so
g++ -shared -fPIC -Wl,-z,relro,-z,now -Wl,--version-script=spank_plugin/kafka_stream.map -static-libstdc++ \
    -static-libgcc -o "$so" "${objs[@]}"
bash tests/e2e/plugin_symbols.sh "$so" || fail "the 24.11 build exports the wrong symbols"

# plugin_version's 4 bytes, read from the .so itself (little-endian).
read -r addr _ < <(nm -D --defined-only "$so" | awk '$3 == "plugin_version" {print $1, $3}')
[ -n "$addr" ] || fail "no plugin_version in $so"
bytes=$(objdump -s -j .rodata --start-address=0x$addr --stop-address=$((0x$addr + 4)) "$so" |
        sed -n 's/^ *[0-9a-f]\+ \([0-9a-f]\{8\}\) .*/\1/p' | head -1)
[ ${#bytes} = 8 ] || fail "cannot read plugin_version's value from $so"
value=$(printf '%08x' $((0x${bytes:6:2}${bytes:4:2}${bytes:2:2}${bytes:0:2})))
echo "plugin_version = 0x$value, headers' SLURM_VERSION_NUMBER = 0x$version_hex"
[ "$((0x$value))" = "$((0x$version_hex))" ] || fail "plugin_version 0x$value does not match 0x$version_hex"
echo PASS
