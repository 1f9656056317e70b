#!/bin/bash
# Started as root with --run-as (as the plugin does): files are read only with the user's rights (a root-only file is
# recorded as unreadable, never sent), the manifest names the user, the spool directory belongs to the user, and a
# root --drain-spool drains each user's entries as that user. --run-as is refused when not root.
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
U=65534; G=65534
src=$T/src
mkdir -p "$src/sub"
echo public > "$src/sub/ok.txt"
echo secret > "$src/root-only.txt"; chmod 600 "$src/root-only.txt"
mkdir -p "$src/closed"; echo x > "$src/closed/x"; chmod 700 "$src/closed"
mkdir -p "$T/spool"

note "delivered as the user"
topic=$(unique_topic runas); create_topic "$topic"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --topic "$topic" --job-id 5 --node n1 --run-as $U:$G \
    --spool "$T/spool" --timeout 60 "$src" 2>"$T/err" || fail "push: exit $?: $(cat "$T/err")"
cat "$T/err"
"$PY" "$KS_ROOT/tests/tools/push_verify.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --source "$src" \
    --timeout 60 --skip "root-only.txt=unreadable: Permission denied" \
    --skip "closed=unreadable: Permission denied" --unlisted closed/x --manifest-out "$T/m.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))["job"]; assert (j["uid"], j["gid"]) == (65534, 65534), j; print("job user", j["user"])' "$T/m.json"
[ "$(stat -c '%u %a' "$T/spool/$U")" = "$U 700" ] || fail "spool dir: $(stat -c '%u %a' "$T/spool/$U")"

note "broker down: spooled as the user; root drains it as the owner"
rc=0
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=127.0.0.1:9 --topic "$topic" --job-id 6 --node n1 --run-as $U:$G --spool "$T/spool" \
    --timeout 2 "$src" 2>"$T/err2" || rc=$?
[ $rc = 3 ] || fail "exit $rc: $(cat "$T/err2")"
entry=$(ls -d "$T/spool/$U"/*)
[ "$(stat -c %u "$entry/transfer.json")" = $U ] || fail "spool entry not owned by the user"
"$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers="$KAFKA_BOOTSTRAP" --timeout 60 --drain-spool "$T/spool" 2>"$T/drain" \
    || fail "drain: exit $?: $(cat "$T/drain")"
[ ! -e "$entry" ] || fail "entry left after drain"

note "--run-as needs root; bad values are usage errors"
rc=0
user_push=$(reachable "$PUSH")
# (stream.auth=none: a user cannot read the site's key, so the push would stop there first.)
setpriv --reuid $U --regid $G --clear-groups "$user_push" -X stream.auth=none -X bootstrap.servers=x:1 --topic t \
    --run-as $U:$G "$src" 2>"$T/err3" || rc=$?
[ $rc = 2 ] && grep -q 'only allowed when running as root' "$T/err3" || fail "non-root --run-as: rc=$rc $(cat "$T/err3")"
rc=0
setpriv --reuid $U --regid $G --clear-groups "$user_push" "${KS_AUTH[@]}" -X bootstrap.servers=x:1 --topic t \
    "$src" 2>"$T/err5" || rc=$?
[ $rc = 2 ] && grep -q 'cannot read the signing key.*Permission denied' "$T/err5" || fail "a user signing: rc=$rc $(cat "$T/err5")"
rc=0; "$PUSH" "${KS_AUTH[@]}" -X bootstrap.servers=x:1 --topic t --run-as 0:0 "$src" 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "--run-as 0:0: rc=$rc"
echo "push_run_as: all checks passed"
