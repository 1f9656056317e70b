#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "errno_error.hpp"
#include "text_codec.hpp"

namespace ks::push {
namespace {

// The passwd entry's name, if any (getpwuid_r: no static buffers).
bool lookup_name(uid_t uid, std::string& name, gid_t& primary) {
    long sz = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(sz > 0 ? static_cast<std::size_t>(sz) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    while (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (!found) return false;
    name = pw.pw_name;
    primary = pw.pw_gid;
    return true;
}

}  // namespace

Result<RunAs> parse_run_as(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return fail("--run-as: expected UID:GID, got \"" + std::string(text) + "\"");
    auto uid = text::parse_u64(text.substr(0, colon));
    auto gid = text::parse_u64(text.substr(colon + 1));
    if (!uid || !gid || *uid > 0xFFFFFFFEull || *gid > 0xFFFFFFFEull)
        return fail("--run-as: expected numeric UID:GID, got \"" + std::string(text) + "\"");
    if (*uid == 0 || *gid == 0) return fail("--run-as: refusing to run as uid or gid 0");
    return RunAs{static_cast<uid_t>(*uid), static_cast<gid_t>(*gid)};
}

Result<void> drop_privileges(const RunAs& target) {
    std::string name;
    gid_t primary = 0;
    if (lookup_name(target.uid, name, primary)) {
        if (::initgroups(name.c_str(), target.gid) != 0) return fail_errno("initgroups");
    } else {
        gid_t only = target.gid;
        if (::setgroups(1, &only) != 0) return fail_errno("setgroups");
    }
    if (::setresgid(target.gid, target.gid, target.gid) != 0) return fail_errno("setresgid");
    if (::setresuid(target.uid, target.uid, target.uid) != 0) return fail_errno("setresuid");
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (::getresuid(&r, &e, &s) != 0 || r != target.uid || e != target.uid || s != target.uid)
        return fail("uid did not change to " + std::to_string(target.uid));
    if (::getresgid(&rg, &eg, &sg) != 0 || rg != target.gid || eg != target.gid || sg != target.gid)
        return fail("gid did not change to " + std::to_string(target.gid));
    // The whole point: root must be out of reach now.
    if (::setuid(0) == 0 || ::seteuid(0) == 0) return fail("root could be regained after dropping privileges");
    if (::setgid(0) == 0) return fail("gid 0 could be regained after dropping privileges");
    // The process holds the site's Kafka credentials and now has the user's uid: the user must not ptrace it or read
    // its memory or environment. The kernel ensures that after setresuid only while fs.suid_dumpable is 0.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("prctl(PR_SET_DUMPABLE)");
    return {};
}

std::string user_name_of(uid_t uid) {
    std::string name;
    gid_t primary = 0;
    if (lookup_name(uid, name, primary)) return name;
    return std::to_string(uid);
}

}  // namespace ks::push
