#!/bin/bash
# copy-sources.sh DEST: copies the work tree's sources (as they are, committed or not) to DEST, without build outputs,
# benchmark outputs or git's data: what a fresh clone holds. Used by `make deb` (debhelper builds and cleans in the
# copy) and by the test that runs the demo from a checkout only root can read.
set -euo pipefail
[ $# = 1 ] || { echo "usage: copy-sources.sh DEST" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
tar -C "$root" --exclude=./build --exclude=./.git --exclude=./bench/out -cf - . | tar -C "$1" -xf -
