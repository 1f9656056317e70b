#include "fs_ops.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

namespace ks {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

Result<UniqueFd> open_dir_at(int dirfd, const std::string& name) {
    UniqueFd fd(::openat(dirfd, name.c_str(), kDirFlags));
    if (fd) return fd;
    if (errno == ELOOP || errno == ENOTDIR)
        return fail("\"" + name + "\" exists and is not a directory (or is a symlink)");
    return fail_errno("open directory " + name);
}

Result<UniqueFd> make_dir_at(int dirfd, const std::string& name, mode_t mode, bool& created) {
    created = ::mkdirat(dirfd, name.c_str(), mode) == 0;
    if (!created && errno != EEXIST) return fail_errno("mkdir " + name);
    return open_dir_at(dirfd, name);
}

Result<std::vector<std::string>> list_dir(int dir_fd) {
    // A duplicate, not openat(dir_fd, "."): that would also need search permission on the directory.
    UniqueFd dup(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) return fail_errno("read directory");
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dup.get()));
    if (!dir) return fail_errno("read directory");
    dup.release();  // closedir closes it
    // The duplicate shares the directory offset with dir_fd: start from the beginning whatever was read before.
    ::rewinddir(dir.get());
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(dir.get())) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
        errno = 0;
    }
    if (errno != 0) return fail_errno("read directory");
    std::sort(names.begin(), names.end());
    return names;
}

Result<std::vector<DirEntry>> list_dir_entries(int dir_fd) {
    TRY_ASSIGN(auto names, list_dir(dir_fd));
    std::vector<DirEntry> out;
    out.reserve(names.size());
    for (auto& n : names) {
        struct stat st {};
        if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) out.push_back({std::move(n), st});
    }
    return out;
}

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("write " + what);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

Result<void> fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) != 0) return fail_errno("fsync " + what);
    return {};
}

Result<void> datasync_fd(int fd, const std::string& what) {
    if (::fdatasync(fd) != 0) return fail_errno("fdatasync " + what);
    return {};
}

Result<std::string> read_small_file(int dirfd, const std::string& name, std::size_t max_bytes) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return fail_errno("open " + name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + name);
    if (!S_ISREG(st.st_mode)) return fail(name + " is not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return fail(name + " is larger than expected");
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read " + name);
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

Result<UniqueFd> create_file_at(int dirfd, const std::string& name, mode_t mode, int access) {
    UniqueFd fd(::openat(dirfd, name.c_str(), access | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) return fail_errno("create " + name);
    return fd;
}

Result<void> write_file_atomic(int tmp_dirfd, int dirfd, const std::string& name, std::string_view content,
                               AtomicWrite how) {
    const std::string tmp = unique_temp_name();
    UniqueFd fd(::openat(tmp_dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, how.mode));
    if (!fd) return fail_errno("create temporary file for " + name);
    auto ok = write_all(fd.get(), content, name);
    if (ok && how.durable) ok = fsync_fd(fd.get(), name);
    if (ok && ::renameat(tmp_dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) ok = fail_errno("rename to " + name);
    if (!ok) {
        const int saved = errno;  // the caller classifies the failure, not the clean-up
        ::unlinkat(tmp_dirfd, tmp.c_str(), 0);
        errno = saved;
        return ok;
    }
    if (!how.durable) return {};
    return fsync_fd(dirfd, "directory of " + name);
}

std::string unique_temp_name() {
    unsigned char r[8] = {};
    if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
        // getrandom on Linux >= 3.17 does not fail for 8 bytes; fall back to the pid and address anyway.
        auto v = reinterpret_cast<std::uintptr_t>(&r) ^ static_cast<std::uintptr_t>(::getpid());
        std::memcpy(r, &v, sizeof r < sizeof v ? sizeof r : sizeof v);
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string name = ".tmp-" + std::to_string(::getpid()) + "-";
    for (unsigned char b : r) {
        name.push_back(hex[b >> 4]);
        name.push_back(hex[b & 15]);
    }
    return name;
}

}  // namespace ks
