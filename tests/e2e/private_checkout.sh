#!/bin/bash
# README's quick start from a checkout only root can read (a clone in root's home: the directory mode 0700, no
# permissions for others on any file): `make demo` builds, starts its own harness and delivers the demo job's results;
# tests of that checkout that run things as the test user pass; and where the test user still cannot load the plugin,
# `cluster up` stops before starting anything, with one line that says why and what to do (never sbatch's
# "unrecognized option" later). Runs a second harness instance on its own ports and state dir (the shared one keeps
# running).
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
base=$(free_port_base 50) || skip "no free port base found for a second harness"
home=$T/root-home
mkdir -m 0700 "$home"
co=$home/slurm-kafka-stream
"$KS_ROOT/scripts/copy-sources.sh" "$co"
chmod -R go-rwx "$co"
# What a new shell has: none of this test run's settings (KS_STATE, SLURM_CONF, BUILD, MAKEFLAGS, ...).
fresh() { env -i PATH="$PATH" HOME=/root LANG=C.UTF-8 KS_PORT_BASE=$base "$@"; }
on_exit 'fresh "$co/tests/cluster/cluster" down >/dev/null 2>&1; rm -rf "/tmp/ks-cluster-$base" "/tmp/ks-cluster-$base.lock"'

note "make demo in $co (port base $base)"
fresh make -C "$co" demo >"$T/demo.out" 2>&1 || { cat "$T/demo.out"; fail "make demo failed in a checkout only root can read"; }
cat "$T/demo.out"
[ "$(grep -c ': OK$' "$T/demo.out")" = 2 ] || fail "expected two verified result files"
[ "$(stat -c %a "$home")" = 700 ] || fail "the checkout's directory is no longer private"

note "tests of that checkout that run as the test user"
fresh "$co/tests/run" all push_run_as plugin_topic_policy >"$T/run.out" 2>&1 || { cat "$T/run.out"; fail "tests/run failed"; }
cat "$T/run.out"
tail -1 "$T/run.out" | grep -qE '^[1-9][0-9]* passed, 0 failed, 0 skipped$' || fail "tests/run: $(tail -1 "$T/run.out")"
fresh "$co/tests/cluster/cluster" down

# up_fails WHAT EXPECTED [VAR=VALUE...]: `cluster up` fails with one line matching EXPECTED, and leaves nothing running.
up_fails() {
    local what=$1 expected=$2 rc=0
    shift 2
    fresh "$@" "$co/tests/cluster/cluster" up >"$T/up.out" 2>&1 || rc=$?
    cat "$T/up.out"
    [ $rc = 1 ] || fail "$what: cluster up exited $rc"
    grep -qE "^cluster: $expected" "$T/up.out" || fail "$what: no line saying why"
    ! grep -q 'unrecognized option' "$T/up.out" || fail "$what: Slurm's 'unrecognized option' shown"
    ! grep -q 'running (pid' <(fresh "$@" "$co/tests/cluster/cluster" status) || fail "$what: a daemon still runs"
}
note "a state dir the test user cannot reach"
up_fails "state dir in the private directory" \
    "the test user ksuser cannot read $home/state/slurm.conf \\($home is drwx------ root\\): set KS_STATE to" \
    KS_STATE="$home/state"
note "a plugin that sbatch cannot load"
echo "not a plugin" >"$T/not-a-plugin.so"
up_fails "not a plugin" "sbatch, run as ksuser, does not offer --kafka-stream: sbatch: error: .*\\(rebuild $T/not-a-plugin.so with make" \
    KS_PLUGIN="$T/not-a-plugin.so"
echo "private_checkout: all checks passed"
