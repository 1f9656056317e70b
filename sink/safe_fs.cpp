#include "safe_fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sha256.hpp"
#include "sync_batch.hpp"

namespace ks::sink {

Result<UniqueFd> open_dir(int dirfd, const std::string& name, bool create, const std::function<void(int)>& on_created,
                          SyncBatch* batch) {
    bool created = false;
    TRY_ASSIGN(UniqueFd fd, create ? make_dir_at(dirfd, name, 0755, created) : open_dir_at(dirfd, name));
    if (created) {
        if (on_created) on_created(fd.get());
        TRY(batch ? batch->add(dirfd, "directory above " + name) : fsync_fd(dirfd, "directory above " + name));
    }
    return fd;
}

Result<UniqueFd> open_dir_path(int rootfd, const std::vector<std::string>& components, bool create,
                               const std::function<void(int)>& on_created, SyncBatch* batch) {
    UniqueFd cur(::openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cur) return fail_errno("open output root");
    for (const auto& c : components) {
        auto next = open_dir(cur.get(), c, create, on_created, batch);
        if (!next) return next;
        cur = std::move(*next);
    }
    return cur;
}

bool entry_exists(int dirfd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<void> remove_tree(int dirfd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return fail_errno("stat " + name);
    }
    if (S_ISDIR(st.st_mode)) {
        TRY_ASSIGN(auto sub, open_dir(dirfd, name, false));
        TRY_ASSIGN(auto names, list_dir(sub.get()));
        for (const auto& n : names) TRY(remove_tree(sub.get(), n));
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            return fail_errno("remove directory " + name);
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
        return fail_errno("remove " + name);
    }
    return {};
}

Result<bool> sha256_slice(int fd, std::uint64_t size, Sha256& hash, std::uint64_t& pos, std::uint64_t& budget) {
    std::vector<char> buf(1 << 20);
    while (pos < size && budget > 0) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>({buf.size(), size - pos, budget}));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read staged file");
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

}  // namespace ks::sink
