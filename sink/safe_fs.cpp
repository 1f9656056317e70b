#include "safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "sha256.hpp"
#include "sync_batch.hpp"

namespace ks::sink {

Error errno_error(const std::string& what) {
    // Callers classify failures by errno after building the message: keep it intact.
    const int saved = errno;
    Error e{what + ": " + std::strerror(saved)};
    errno = saved;
    return e;
}

Result<UniqueFd> open_dir(int dirfd, const std::string& name, bool create, const std::function<void(int)>& on_created,
                          SyncBatch* batch) {
    bool created = false;
    if (create) {
        if (::mkdirat(dirfd, name.c_str(), 0755) == 0)
            created = true;
        else if (errno != EEXIST)
            return std::unexpected(errno_error("mkdir " + name));
    }
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ELOOP || errno == ENOTDIR) return fail("\"" + name + "\" exists and is not a directory (or is a symlink)");
        return std::unexpected(errno_error("open directory " + name));
    }
    if (created) {
        if (on_created) on_created(fd.get());
        TRY(batch ? batch->add(dirfd, "directory above " + name) : fsync_fd(dirfd, "directory above " + name));
    }
    return fd;
}

Result<UniqueFd> open_dir_path(int rootfd, const std::vector<std::string>& components, bool create,
                               const std::function<void(int)>& on_created, SyncBatch* batch) {
    UniqueFd cur(::openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cur) return std::unexpected(errno_error("open output root"));
    for (const auto& c : components) {
        auto next = open_dir(cur.get(), c, create, on_created, batch);
        if (!next) return next;
        cur = std::move(*next);
    }
    return cur;
}

Result<void> fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) != 0) return std::unexpected(errno_error("fsync " + what));
    return {};
}

Result<void> datasync_fd(int fd, const std::string& what) {
    if (::fdatasync(fd) != 0) return std::unexpected(errno_error("fdatasync " + what));
    return {};
}

static Result<void> write_all(int fd, std::string_view content, const std::string& what) {
    while (!content.empty()) {
        ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(errno_error("write " + what));
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

Result<void> write_file_atomic(int tmp_dirfd, int dirfd, const std::string& name, std::string_view content, mode_t mode) {
    std::string tmp = unique_temp_name();
    UniqueFd fd(::openat(tmp_dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) return std::unexpected(errno_error("create temporary file for " + name));
    auto ok = write_all(fd.get(), content, name);
    if (ok) ok = fsync_fd(fd.get(), name);
    if (ok && ::renameat(tmp_dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) ok = std::unexpected(errno_error("rename to " + name));
    if (!ok) {
        ::unlinkat(tmp_dirfd, tmp.c_str(), 0);
        return ok;
    }
    return fsync_fd(dirfd, "directory of " + name);
}

Result<std::string> read_small_file(int dirfd, const std::string& name, std::size_t max_bytes) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::unexpected(errno_error("open " + name));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return std::unexpected(errno_error("stat " + name));
    if (!S_ISREG(st.st_mode)) return fail(name + " is not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return fail(name + " is larger than expected");
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(errno_error("read " + name));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

bool entry_exists(int dirfd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::vector<std::string>> list_dir(int dirfd) {
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) return std::unexpected(errno_error("open directory"));
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup), ::closedir);
    if (!dir) {
        ::close(dup);
        return std::unexpected(errno_error("read directory"));
    }
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(dir.get())) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    if (errno != 0) return std::unexpected(errno_error("read directory"));
    return names;
}

Result<void> remove_tree(int dirfd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return std::unexpected(errno_error("stat " + name));
    }
    if (S_ISDIR(st.st_mode)) {
        TRY_ASSIGN(auto sub, open_dir(dirfd, name, false));
        TRY_ASSIGN(auto names, list_dir(sub.get()));
        for (const auto& n : names)
            TRY(remove_tree(sub.get(), n));
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            return std::unexpected(errno_error("remove directory " + name));
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
        return std::unexpected(errno_error("remove " + name));
    }
    return {};
}

Result<bool> sha256_slice(int fd, std::uint64_t size, Sha256& hash, std::uint64_t& pos, std::uint64_t& budget) {
    std::vector<char> buf(1 << 20);
    while (pos < size && budget > 0) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>({buf.size(), size - pos, budget}));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(errno_error("read staged file"));
        if (n == 0) return fail("file is shorter than expected");
        hash.update(buf.data(), static_cast<std::size_t>(n));
        pos += static_cast<std::uint64_t>(n);
        budget -= static_cast<std::uint64_t>(n);
    }
    return pos >= size;
}

Result<std::string> sha256_of_fd(int fd, std::uint64_t size) {
    Sha256 hash;
    std::uint64_t pos = 0, budget = size;
    TRY(sha256_slice(fd, size, hash, pos, budget));
    return hash.finish_hex();
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

}  // namespace ks::sink
