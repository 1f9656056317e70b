#include "tmpdir_record.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errno_error.hpp"
#include "unique_fd.hpp"

namespace ks::plugin {
namespace {

constexpr std::size_t kMaxRecord = 4096;

Result<std::string> record_name(const std::string& job_id, const std::string& node) {
    for (const auto* part : {&job_id, &node})
        if (part->empty() || part->find('/') != std::string::npos || part->find('\0') != std::string::npos ||
            *part == "." || *part == "..")
            return fail("cannot name a tmpdir record after job '" + job_id + "' node '" + node + "'");
    return "job_" + job_id + "_" + node;
}

// Opens state_dir, creating it if needed; it must belong to us and be closed to others, or records could be forged.
Result<UniqueFd> open_state_dir(const std::string& state_dir, bool create) {
    if (create && ::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return fail_errno("cannot create state_dir " + state_dir);
    UniqueFd dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return fail_errno("cannot open state_dir " + state_dir);
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return fail_errno("cannot inspect state_dir " + state_dir);
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return fail("state_dir " + state_dir + " must be owned by uid " + std::to_string(::geteuid()) +
                    " and writable only by it");
    return dir;
}

}  // namespace

Result<void> record_job_tmpdir(const std::string& state_dir, const std::string& job_id, const std::string& node,
                               const std::string& tmpdir) {
    auto name = record_name(job_id, node);
    if (!name) return std::unexpected(name.error());
    if (tmpdir.empty() || tmpdir.size() > kMaxRecord || tmpdir.find('\0') != std::string::npos)
        return fail("not recording an empty or oversized TMPDIR");
    auto dir = open_state_dir(state_dir, true);
    if (!dir) return std::unexpected(dir.error());

    const std::string tmp_name = *name + ".tmp." + std::to_string(::getpid());
    UniqueFd fd(::openat(dir->get(), tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("cannot write " + state_dir + "/" + tmp_name);
    bool written = ::write(fd.get(), tmpdir.data(), tmpdir.size()) == static_cast<ssize_t>(tmpdir.size());
    int write_errno = errno;
    fd.reset();
    // linkat() never replaces an existing record: the first step's TMPDIR wins, atomically.
    bool linked = written && ::linkat(dir->get(), tmp_name.c_str(), dir->get(), name->c_str(), 0) == 0;
    int link_errno = errno;
    ::unlinkat(dir->get(), tmp_name.c_str(), 0);
    if (!written) return fail("cannot write a tmpdir record in " + state_dir + ": " + std::strerror(write_errno));
    if (!linked && link_errno != EEXIST)
        return fail("cannot store a tmpdir record in " + state_dir + ": " + std::strerror(link_errno));
    return {};
}

Result<std::optional<std::string>> read_recorded_tmpdir(const std::string& state_dir, const std::string& job_id,
                                                        const std::string& node) {
    auto name = record_name(job_id, node);
    if (!name) return std::unexpected(name.error());
    if (::access(state_dir.c_str(), F_OK) != 0 && errno == ENOENT) return std::optional<std::string>();
    auto dir = open_state_dir(state_dir, false);
    if (!dir) return std::unexpected(dir.error());
    UniqueFd fd(::openat(dir->get(), name->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::optional<std::string>();
        return fail_errno("cannot open " + state_dir + "/" + *name);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
        return fail(state_dir + "/" + *name + " is not a regular file owned by uid " + std::to_string(::geteuid()));
    std::string text(kMaxRecord + 1, '\0');
    ssize_t n = ::read(fd.get(), text.data(), text.size());
    if (n < 0) return fail_errno("cannot read " + state_dir + "/" + *name);
    text.resize(static_cast<std::size_t>(n));
    if (text.empty() || text.size() > kMaxRecord || text.front() != '/' || text.find('\0') != std::string::npos)
        return fail(state_dir + "/" + *name + " does not hold an absolute path");
    return std::optional<std::string>(std::move(text));
}

Result<void> remove_recorded_tmpdir(const std::string& state_dir, const std::string& job_id, const std::string& node) {
    auto name = record_name(job_id, node);
    if (!name) return std::unexpected(name.error());
    std::string path = state_dir + "/" + *name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno("cannot remove " + path);
    return {};
}

}  // namespace ks::plugin
