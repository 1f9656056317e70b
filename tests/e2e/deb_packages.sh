#!/bin/bash
# `make deb` builds the three Debian packages with debhelper, lintian reports no error or warning that an override does
# not explain, and each package holds what its role installs. Then, on this machine: `apt-get install` of
# build/deb/*.deb enables and starts nothing; a job with --kafka-stream runs end to end from the installed paths (the
# harness's plugstack.conf switched to the installed plugin, which runs the helper it finds by default,
# /usr/bin/kafka-stream-push) and the installed sink rebuilds its files; `apt-get purge` leaves none of the files
# `dpkg -L` listed, except the spool's entries (by design: undelivered job output).
# Installing writes to /usr and /etc: the test holds a machine-wide lock, runs only if none of the packages and none
# of their files exist yet, purges the packages on exit, and removes from the spool only what it put there.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/slurm_jobs.sh"
for tool in dpkg-buildpackage dh lintian; do command -v $tool >/dev/null || skip "no $tool: run make deps"; done
# A timeout (tests/run) must still purge: turn the signals into an exit, which runs the cleanup hooks.
trap 'exit 143' TERM INT
packages=(slurm-kafka-stream-plugin slurm-kafka-stream-push slurm-kafka-stream-sink)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
plugin=/usr/lib/$multiarch/slurm-wlm/kafka_stream.so
spool=/var/spool/kafka-stream
deb=$KS_ROOT/build/deb
version=$(cd "$KS_ROOT" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
debfile() { echo "$deb/$1_${version}_$arch.deb"; }

note "make deb"
make -s -C "$KS_ROOT" deb >"$T/deb.out" 2>&1 || { cat "$T/deb.out"; fail "make deb failed"; }
grep -v '^lintian: N:' "$T/deb.out"
[ "$(ls "$deb"/*.deb)" = "$(for p in "${packages[@]}"; do debfile "$p"; done)" ] || fail "build/deb holds: $(ls "$deb")"
! grep -E '^[EW]: ' "$deb/lintian.txt" || fail "lintian reports errors or warnings"
# Every override lintian applied comes with a reason (the N: lines above it in the overrides file).
for f in "$KS_ROOT"/debian/*.lintian-overrides; do
    awk '/^#/ {why = 1; next} /^[a-z]/ && !why {print FILENAME ": no reason for " $0; bad = 1} {why = 0} END {exit bad}' "$f" ||
        fail "an override without a reason"
done

note "what each package holds"
contents() { dpkg-deb -c "$(debfile "$1")" | awk '{print $1, $6}'; }
holds() {  # holds PACKAGE MODE PATH
    contents "$1" | grep -qxF -e "$2 ./$3" || fail "$1 does not hold $3 with mode $2: $(contents "$1")"
}
holds slurm-kafka-stream-plugin -rw-r--r-- "${plugin#/}"
holds slurm-kafka-stream-plugin -rw-r--r-- etc/slurm/plugstack.conf.d/kafka-stream.conf
holds slurm-kafka-stream-plugin -rw-r--r-- usr/share/man/man8/kafka_stream.8.gz
holds slurm-kafka-stream-push -rwxr-xr-x usr/bin/kafka-stream-push
holds slurm-kafka-stream-push -rw------- etc/kafka-stream.conf
holds slurm-kafka-stream-push -rw-r--r-- lib/systemd/system/kafka-stream-drain.service
holds slurm-kafka-stream-push -rw-r--r-- lib/systemd/system/kafka-stream-drain.timer
holds slurm-kafka-stream-push drwxr-xr-x var/spool/kafka-stream/
holds slurm-kafka-stream-push -rw-r--r-- usr/share/man/man1/kafka-stream-push.1.gz
holds slurm-kafka-stream-sink -rwxr-xr-x usr/bin/kafka-stream-sink
holds slurm-kafka-stream-sink -rw------- etc/slurm-kafka-stream/kafka-stream-sink.conf
holds slurm-kafka-stream-sink -rw-r--r-- lib/systemd/system/kafka-stream-sink.service
holds slurm-kafka-stream-sink -rw-r--r-- usr/share/man/man1/kafka-stream-sink.1.gz
field() { dpkg-deb -f "$(debfile "$1")" "$2"; }
slurm_version=$(dpkg-query -W -f='${Version}' libslurm-dev)
field slurm-kafka-stream-plugin Depends | grep -qF "slurm-wlm-basic-plugins (= $slurm_version)" ||
    fail "the plugin does not depend on exactly the Slurm it was built with ($slurm_version): $(field slurm-kafka-stream-plugin Depends)"
for p in push sink; do
    field slurm-kafka-stream-$p Depends | grep -q librdkafka1 || fail "slurm-kafka-stream-$p does not depend on librdkafka1"
done
# Built with dpkg-buildflags (every compile has its -ffile-prefix-map and -D_FORTIFY_SOURCE=2, every link its
# LDFLAGS), hardened: full RELRO and bind-now everywhere, PIE tools (lintian checks fortify, PIE and RELRO too).
compiles=$(grep -E '^g\+\+ .* -c ' "$deb/build.log")
[ -n "$compiles" ] || fail "no compiler command in build/deb/build.log"
! grep -v -- '-ffile-prefix-map=' <<<"$compiles" | grep -q . || fail "compiled without dpkg-buildflags' CXXFLAGS"
! grep -v -- '-D_FORTIFY_SOURCE=2' <<<"$compiles" | grep -q . || fail "compiled without _FORTIFY_SOURCE"
[ "$(grep -E '^g\+\+ .*(-shared|-pie) ' "$deb/build.log" | grep -c -- '-Wl,-z,relro -Wl,-z,now')" = 3 ] ||
    fail "the plugin and the tools were not all linked with dpkg-buildflags' LDFLAGS"
for p in "${packages[@]}"; do dpkg-deb -x "$(debfile "$p")" "$T/x"; done
for elf in "$T/x$plugin" "$T/x/usr/bin/kafka-stream-push" "$T/x/usr/bin/kafka-stream-sink"; do
    readelf -lW "$elf" | grep -q GNU_RELRO || fail "$elf: no RELRO"
    readelf -dW "$elf" | grep -qE 'BIND_NOW|FLAGS.*NOW' || fail "$elf: not bind-now"
done
for tool in kafka-stream-push kafka-stream-sink; do
    readelf -hW "$T/x/usr/bin/$tool" | grep -q 'DYN (' || fail "$tool is not PIE"
done
bash "$KS_ROOT/tests/e2e/plugin_symbols.sh" "$T/x$plugin" >"$T/symbols.out" 2>&1 || { cat "$T/symbols.out"; fail "packaged plugin's symbols"; }
# The plugstack.conf snippet is included by Debian's /etc/slurm/plugstack.conf: it must enable nothing.
! grep -v '^[[:space:]]*#' "$T/x/etc/slurm/plugstack.conf.d/kafka-stream.conf" | grep -q '[^[:space:]]' ||
    fail "the plugstack.conf snippet enables the plugin"
grep -q "^#optional $plugin .*helper=/usr/bin/kafka-stream-push" "$T/x/etc/slurm/plugstack.conf.d/kafka-stream.conf" ||
    fail "the plugstack.conf snippet does not show the installed paths"
for unit in kafka-stream-drain.service kafka-stream-sink.service; do
    exec_start=$(sed -n 's/^ExecStart=//p' "$T/x/lib/systemd/system/$unit")
    [ -x "$T/x${exec_start%% *}" ] || fail "$unit runs ${exec_start%% *}, which the packages do not hold"
done

note "install on this machine"
[ "$(id -u)" = 0 ] || skip "installing needs root"
# One package test per machine at a time: /usr is shared by every work tree.
exec 8>/run/lock/slurm-kafka-stream-packages.lock
flock -w 900 8 || skip "another package test holds /run/lock/slurm-kafka-stream-packages.lock"
for p in "${packages[@]}"; do
    ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]' ||
        skip "$p is already installed on this machine: not touching it"
done
for f in /etc/kafka-stream.conf /etc/slurm-kafka-stream "$plugin" /usr/bin/kafka-stream-push /usr/bin/kafka-stream-sink; do
    [ ! -e "$f" ] || skip "$f exists on this machine (an install outside the packages?): not touching it"
done
apt_get() { env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"; }
# The spool may exist already (tests of other work trees run the push with its default spool): this test removes its
# own entries, and the directories it created if they are empty.
spool_before=$(find "$spool" -maxdepth 1 2>/dev/null || true)
my_entries=""
remove_own_spool() {
    local d
    # shellcheck disable=SC2086
    [ -z "$my_entries" ] || rm -rf $my_entries
    for d in "$spool/0" "$spool/$(id -u "$KS_TEST_USER")" "$spool"; do
        grep -qxF "$d" <<<"$spool_before" || rmdir --ignore-fail-on-non-empty "$d" 2>/dev/null || true
    done
}
on_exit 'apt_get purge "${packages[@]}" >"$T/purge-on-exit.log" 2>&1; remove_own_spool'
apt_get install "$deb"/*.deb >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "apt-get install failed"; }
for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u >"$T/installed"
note "$(wc -l <"$T/installed") paths installed"
# Nothing enabled or started: no unit symlinked anywhere (deb-systemd-helper's *.dsh-also only lists the links an
# enable would make), no tool of the packages running.
enabled=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled -name 'kafka-stream*' ! -name '*.dsh-also' \
    2>/dev/null || true)
[ -z "$enabled" ] || fail "units enabled by the installation: $enabled"
! pgrep -f '^/usr/bin/kafka-stream-(push|sink)' || fail "a packaged tool runs after installation"
/usr/bin/kafka-stream-push --version && /usr/bin/kafka-stream-sink --version || fail "the installed tools do not run"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/kafka-stream-drain.timer /lib/systemd/system/kafka-stream-drain.service \
        /lib/systemd/system/kafka-stream-sink.service >"$T/verify.log" 2>&1 || true
    cat "$T/verify.log"
    # The units' own lines only (verify also reports on the machine's other units).
    ! grep 'kafka-stream' "$T/verify.log" | grep -v 'ReadWritePaths\|/data/kafka-stream' ||
        fail "systemd-analyze verify finds problems in the units"
fi

note "a job end to end, from the installed plugin and helper"
for ((i = 0; i < 120; i++)); do [ -z "$(env SLURM_CONF="$SLURM_CONF" squeue -h)" ] && break; sleep 0.5; done
[ -z "$(env SLURM_CONF="$SLURM_CONF" squeue -h)" ] || fail "other jobs are queued: not switching the harness's plugstack.conf"
conf=$KS_STATE/plugstack.conf
cp "$conf" "$T/plugstack.conf.orig"
restore_plugstack() { cp "$T/plugstack.conf.orig" "$conf"; }
on_exit restore_plugstack
# No helper= and no spool=: the packaged plugin's defaults (/usr/bin/kafka-stream-push, /var/spool/kafka-stream).
# A plugin built by `make` would look for /usr/local/bin/kafka-stream-push and deliver nothing.
[ ! -e /usr/local/bin/kafka-stream-push ] || note "(/usr/local/bin/kafka-stream-push exists too)"
echo "optional $plugin config=$KS_STATE/kafka-stream.conf timeout=60 tmpdir=$KS_STATE/scratch/%n/job_%j create_tmpdir=yes topics=t-.+" \
    >"$conf.new"
mv "$conf.new" "$conf"
cat "$conf"
out=$T/out
mkdir -p "$out"
cat >"$jobdir/job.sh" <<'JOB'
#!/bin/bash
cd "$TMPDIR"
mkdir -p res
seq 1 50000 > res/numbers.txt
head -c 2000000 /dev/urandom > res/random.bin
sha256sum res/* > "$SLURM_SUBMIT_DIR/expected.sha256"
JOB
chmod 755 "$jobdir/job.sh"
topic=$(unique_topic)
create_topic "$topic"
job=$(as_user sbatch --parsable --output="$jobdir/job.out" --kafka-stream="$topic" "$jobdir/job.sh") ||
    fail "sbatch with the installed plugin failed"
on_exit "env SLURM_CONF='$SLURM_CONF' scancel $job 2>/dev/null"
wait_gone "$job"
cat "$jobdir/job.out"
grep -h "kafka_stream: job $job:" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" || true
grep -qh "kafka_stream: job $job: delivered" "$KS_SLURMD_LOG_N1" "$KS_SLURMD_LOG_N2" ||
    fail "job $job was not delivered by the installed plugin and helper"
restore_plugstack

note "the installed sink rebuilds the job's files (with its installed configuration, overridden on the command line)"
/usr/bin/kafka-stream-sink "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --group "g-$topic" --output "$out" \
    --chown --exit-when-idle 10 2>"$T/sink.log" || { cat "$T/sink.log"; fail "the installed sink failed"; }
success=$(find "$out" -path "*/$job/_SUCCESS" | head -1)
[ -n "$success" ] || { cat "$T/sink.log"; find "$out" | head -20; fail "job $job has no _SUCCESS"; }
node_dir=$(dirname "$(find "$(dirname "$success")" -path '*/res/numbers.txt' | head -1)")/..
(cd "$node_dir" && sha256sum -c "$jobdir/expected.sha256") || fail "the files the sink wrote differ from the job's"

note "an undelivered transfer stays in the spool, and purge keeps it"
mkdir -p "$T/src" && echo "not delivered" >"$T/src/a.txt"
before=$(find "$spool/0" -mindepth 1 -maxdepth 1 2>/dev/null | sort || true)
rc=0
/usr/bin/kafka-stream-push "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic t-unreachable --job-id $((800000000 + RANDOM)) \
    --node deb-test-$$ --timeout 2 "$T/src" 2>"$T/push.err" || rc=$?
my_entries=$(comm -13 <(echo "$before") <(find "$spool/0" -mindepth 1 -maxdepth 1 2>/dev/null | sort))
[ $rc = 3 ] || fail "push to an unreachable broker: exit $rc, expected 3 (spooled): $(cat "$T/push.err")"
[ -n "$my_entries" ] || fail "nothing spooled in $spool/0"

note "purge"
apt_get purge "${packages[@]}" >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "apt-get purge failed"; }
cat "$T/purge.log" | grep -i 'warning\|not empty' || true
left=()
while IFS= read -r path; do
    [ "$path" != /. ] || continue
    [ -e "$path" ] || [ -L "$path" ] || continue
    [ "$path" = "$spool" ] && continue                       # kept by design: it holds undelivered output
    [ -d "$path" ] && dpkg -S "$path" >/dev/null 2>&1 && continue  # another package's directory (or /lib -> usr/lib)
    left+=("$path")
done <"$T/installed"
[ ${#left[@]} = 0 ] || fail "left behind after purge: ${left[*]}"
for p in "${packages[@]}"; do
    ! dpkg-query -W "$p" >/dev/null 2>&1 || fail "$p still known to dpkg: $(dpkg-query -W -f='${db:Status-Abbrev}' "$p")"
done
leftover_state=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
    -name 'kafka-stream*' 2>/dev/null || true)
[ -z "$leftover_state" ] || fail "systemd state left behind: $leftover_state"
for e in $my_entries; do [ -f "$e/transfer.json" ] || fail "the spool entry $e did not survive the purge"; done
note "left, by design: $(find "$spool" | tr '\n' ' ')"
remove_own_spool
my_entries=""
echo "deb_packages: all checks passed"
