#include "stream_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <string_view>

#include "errno_error.hpp"
#include "unique_fd.hpp"

namespace ks::plugin {
namespace {

bool is_well_known_shared(std::string_view path) {
    static constexpr std::array<std::string_view, 5> kShared = {"/", "/tmp", "/var/tmp", "/dev/shm", "/run/shm"};
    for (auto s : kShared)
        if (path == s) return true;
    return false;
}

}  // namespace

Result<DirState> check_stream_dir(const std::string& path, uid_t job_uid, bool allow_shared) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return DirState::missing;
        return fail_errno("cannot inspect " + path);
    }
    if (S_ISLNK(st.st_mode)) return fail(path + " is a symbolic link; refusing to follow it");
    if (!S_ISDIR(st.st_mode)) return fail(path + " is not a directory");
    if (allow_shared) return DirState::present;
    if (is_well_known_shared(path) || (st.st_mode & S_IWOTH) != 0)
        return fail("refusing to stream " + path + ": it is a shared directory (set allow_shared=yes to permit)");
    if (st.st_uid != job_uid)
        return fail("refusing to stream " + path + ": it is owned by uid " + std::to_string(st.st_uid) +
                    ", not by the job's user (uid " + std::to_string(job_uid) + "); set allow_shared=yes to permit");
    return DirState::present;
}

Result<bool> create_job_tmpdir(const std::string& path, uid_t uid, gid_t gid) {
    auto slash = path.find_last_of('/');
    if (path.empty() || path.front() != '/' || slash == std::string::npos || slash + 1 == path.size())
        return fail("cannot create '" + path + "': not an absolute path to a directory");
    const std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    const std::string name = path.substr(slash + 1);

    UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd) return fail_errno("cannot create " + path + ": cannot open " + parent);
    bool created = ::mkdirat(parent_fd.get(), name.c_str(), 0700) == 0;
    if (!created && errno != EEXIST) return fail_errno("cannot create " + path);

    // O_NOFOLLOW: a user may have planted a symlink under this name in a world-writable parent.
    UniqueFd dir(::openat(parent_fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return fail_errno("cannot open " + path + " (a symlink or not a directory?)");
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return fail_errno("cannot inspect " + path);
    if (created) {
        if (::fchown(dir.get(), uid, gid) != 0 || ::fchmod(dir.get(), 0700) != 0)
            return fail_errno("cannot give " + path + " to uid " + std::to_string(uid));
        return true;
    }
    if (st.st_uid != uid)
        return fail(path + " already exists and is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                    std::to_string(uid));
    return false;
}

}  // namespace ks::plugin
