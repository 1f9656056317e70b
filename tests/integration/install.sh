#!/bin/bash
# `make install DESTDIR=... PREFIX=/usr` lays out what the build produced: the tools in bin/, the plugin in Slurm's
# plugin directory, man pages and example configs; each installed file is the built one.
. "$(dirname "$0")/../lib/common.sh"
dest=$T/root
make -s -C "$KS_ROOT" install DESTDIR="$dest" PREFIX=/usr >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "make install failed"; }
plugin_dir=$(make -s -C "$KS_ROOT" --no-print-directory -f - print-plugin-dir <<MK 2>/dev/null
include $KS_ROOT/Makefile
print-plugin-dir: ; @echo \$(SLURM_PLUGIN_DIR)
MK
)
[ -n "$plugin_dir" ] || fail "could not ask the Makefile for SLURM_PLUGIN_DIR"

checked=0
# installed SOURCE DESTINATION MODE: DESTINATION exists, is SOURCE byte for byte, and has MODE.
installed() {
    [ -f "$2" ] || fail "$1 was not installed as $2"
    cmp -s "$1" "$2" || fail "$2 differs from $1"
    [ "$(stat -c %a "$2")" = "$3" ] || fail "$2 has mode $(stat -c %a "$2"), expected $3"
    checked=$((checked + 1))
}
for tool in kafka-stream-push kafka-stream-sink; do
    [ -f "$KS_BIN/$tool" ] && installed "$KS_BIN/$tool" "$dest/usr/bin/$tool" 755
done
[ -f "$KS_ROOT/$BUILD/lib/kafka_stream.so" ] &&
    installed "$KS_ROOT/$BUILD/lib/kafka_stream.so" "$dest$plugin_dir/kafka_stream.so" 755
for page in "$KS_ROOT"/man/*.[18]; do
    [ -f "$page" ] && installed "$page" "$dest/usr/share/man/man${page##*.}/$(basename "$page")" 644
done
for example in "$KS_ROOT"/etc/*; do
    [ -f "$example" ] && installed "$example" "$dest/usr/share/doc/slurm-kafka-stream/examples/$(basename "$example")" 644
done
[ $checked -gt 0 ] || skip "nothing built or written yet to install"
# Nothing outside the expected places.
unexpected=$(cd "$dest" && find . -type f | grep -vE "^\./usr/(bin|share/man/man[18]|share/doc/slurm-kafka-stream/examples)/|^\.$plugin_dir/" || true)
[ -z "$unexpected" ] || fail "unexpected files installed: $unexpected"
note "$checked installed files match the build"
# Both tools name the wire format they speak, and it is the same one.
if [ -x "$dest/usr/bin/kafka-stream-push" ] && [ -x "$dest/usr/bin/kafka-stream-sink" ]; then
    push_wire=$("$dest/usr/bin/kafka-stream-push" --version | grep -o 'wire format [0-9]*')
    sink_wire=$("$dest/usr/bin/kafka-stream-sink" --version | grep -o 'wire format [0-9]*')
    [ -n "$push_wire" ] && [ "$push_wire" = "$sink_wire" ] ||
        fail "the push speaks '$push_wire', the sink '$sink_wire'"
fi
