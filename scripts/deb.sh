#!/bin/bash
# make deb: the Debian binary packages of debian/control (the SPANK plugin, the push, the sink), built by debhelper
# in a copy of the tree (its clean step would otherwise remove build/, with the harness's env file and the test
# logs), then checked by lintian. Output in build/deb/: the .deb files, .changes, .buildinfo, build.log, and
# lintian.txt (every tag lintian shows, infos and overridden ones included).
# Exit status: non-zero if the build fails or lintian reports an error or a warning that no override explains.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/deb
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || { echo "deb: no $tool: run make deps" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -S Version)
src=$OUT/src/slurm-kafka-stream-$version
rm -rf "$OUT"
scripts/copy-sources.sh "$src"
echo "deb: building slurm-kafka-stream $version (log: $OUT/build.log)"
# Only dpkg-buildflags' flags, and none of a calling make's or test run's settings (make test exports BUILD).
if ! (cd "$src" && env -u BUILD -u SANITIZE -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CPPFLAGS -u CXXFLAGS -u LDFLAGS \
    DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc) >"$OUT/build.log" 2>&1; then
    tail -n 40 "$OUT/build.log" >&2
    echo "deb: dpkg-buildpackage failed (full log: $OUT/build.log)" >&2
    exit 1
fi
# Overridden tags are shown (O:) with their reasons; --fail-on would count them too, so the verdict is the E: and W:
# lines.
lintian --display-info --show-overrides --fail-on none "$OUT"/src/*.changes >"$OUT/lintian.txt" 2>&1 ||
    { cat "$OUT/lintian.txt" >&2; echo "deb: lintian failed to run" >&2; exit 1; }
# The debug symbols apart, so that build/deb/*.deb are the packages a site installs.
mkdir -p "$OUT/debug"
mv "$OUT"/src/*-dbgsym_*.deb "$OUT/debug/"
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT/"
rm -rf "$OUT/src"
ls "$OUT"/*.deb
if [ -s "$OUT/lintian.txt" ]; then sed 's/^/lintian: /' "$OUT/lintian.txt"; else echo "lintian: nothing to report"; fi
if grep -qE '^[EW]: ' "$OUT/lintian.txt"; then
    echo "deb: lintian reports errors or warnings: fix them, or override them with a reason in debian/*.lintian-overrides" >&2
    exit 1
fi
echo "deb: done"
