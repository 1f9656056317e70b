#!/bin/bash
# kafka_stream.so exports only plugin_* and slurm_spank_* (nothing of the static libstdc++ leaks into slurmd), has
# the symbols Slurm needs, and links no Kafka or other stray library: it is loaded into sbatch, srun, slurmd and
# slurmstepd. Usage: plugin_symbols.sh [PATH.so] (default build/lib/kafka_stream.so). Needs no cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
so=${1:-build/lib/kafka_stream.so}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$so" ] || fail "$so not found (run make)"

exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
[ -n "$exported" ] || fail "nm found no exported symbols in $so"
stray=$(grep -Ev '^(plugin_|slurm_spank_)' <<<"$exported" || true)
[ -z "$stray" ] || fail "$so exports symbols other than plugin_* and slurm_spank_*: $(tr '\n' ' ' <<<"$stray")"
for needed in plugin_name plugin_type plugin_version slurm_spank_init slurm_spank_job_epilog; do
    grep -qx "$needed" <<<"$exported" || fail "$so does not export $needed"
done

needed_libs=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
echo "NEEDED: $(tr '\n' ' ' <<<"$needed_libs")"
for lib in $needed_libs; do
    case $lib in
        libc.so.*|ld-linux*|libm.so.*) ;;
        *) fail "$so links $lib (only libc is allowed: no librdkafka, no shared libstdc++)";;
    esac
done
if nm -D --undefined-only "$so" | grep -qi 'rd_kafka'; then fail "$so references librdkafka symbols"; fi
echo "exported: $(tr '\n' ' ' <<<"$exported")"
echo "PASS"
