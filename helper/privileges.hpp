// Dropping root for good before anything under the job's directory is opened (--run-as UID:GID).
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

#include "result.hpp"

namespace ks::push {

struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
};

// "UID:GID", both decimal; uid 0 and gid 0 are refused (dropping to root is not dropping).
Result<RunAs> parse_run_as(std::string_view text);

// setgroups (the user's supplementary groups via initgroups when the uid has a passwd entry, else only `gid`),
// setresgid, setresuid; then checks that getresuid/getresgid show the target everywhere and that setuid(0) fails.
// Any failure is returned and the caller must stop without reading anything.
Result<void> drop_privileges(const RunAs& target);

// The name of `uid` from the passwd database, or the number as text when it has none.
std::string user_name_of(uid_t uid);

}  // namespace ks::push
