#include "safe_walk.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "fs_ops.hpp"

namespace ks::push {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

std::string unreadable(int err) { return std::string(skip_reason::unreadable_prefix) + std::strerror(err); }

// All names in the directory except "." and "..", sorted by bytes.
Result<std::vector<std::string>> list_names(int dir_fd) {
    auto names = list_dir(dir_fd);
    if (!names) return fail(unreadable(errno));  // list_dir leaves the cause in errno
    return names;
}

bool is_symlink_at(int dir_fd, const char* name) {
    struct stat st {};
    return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Under O_NOFOLLOW a symlink fails with ELOOP (or ENOTDIR when O_DIRECTORY is also given): name it as such.
std::string open_error_reason(int dir_fd, const char* name, int err) {
    if ((err == ELOOP || err == ENOTDIR) && is_symlink_at(dir_fd, name)) return skip_reason::symlink;
    return unreadable(err);
}

class Walker {
public:
    Walker(const GlobFilter& filter, int max_depth) : filter_(filter), max_depth_(max_depth) {}

    void walk(int dir_fd, const std::string& prefix, int depth) {
        auto names = list_names(dir_fd);
        if (!names) {
            result_.skipped.push_back({prefix.empty() ? "." : prefix, names.error().message});
            return;
        }
        for (const auto& name : *names) visit(dir_fd, name, prefix.empty() ? name : prefix + "/" + name, depth);
    }

    WalkResult take() { return std::move(result_); }

private:
    void skip(std::string path, std::string reason) { result_.skipped.push_back({std::move(path), std::move(reason)}); }

    void visit(int dir_fd, const std::string& name, const std::string& path, int depth) {
        struct stat st {};
        if (has_control_character(name)) return skip(path, skip_reason::control_character);
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return skip(path, unreadable(errno));
        if (S_ISDIR(st.st_mode)) {
            if (filter_.excludes_directory(path)) return;
            if (depth + 1 > max_depth_) return skip(path, skip_reason::too_deep);
            UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
            if (!sub) return skip(path, open_error_reason(dir_fd, name.c_str(), errno));
            return walk(sub.get(), path, depth + 1);
        }
        if (!S_ISREG(st.st_mode)) return skip(path, reason_for_type(st.st_mode));
        if (!filter_.wants_file(path)) return;
        if (path.size() > wire::kMaxPathBytes) return skip(path, skip_reason::path_too_long);
        result_.files.push_back({path, static_cast<std::uint64_t>(st.st_size)});
    }

    const GlobFilter& filter_;
    int max_depth_;
    WalkResult result_;
};

}  // namespace

bool has_control_character(std::string_view name) {
    return std::any_of(name.begin(), name.end(), [](char c) {
        auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == 0x7f;
    });
}

const char* reason_for_type(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFLNK:
        return skip_reason::symlink;
    case S_IFIFO:
        return skip_reason::fifo;
    case S_IFSOCK:
        return skip_reason::socket;
    case S_IFCHR:
    case S_IFBLK:
        return skip_reason::device;
    default:
        return skip_reason::other;
    }
}

Result<UniqueFd> open_root_directory(const std::string& path) {
    if (path.empty()) return fail("empty directory path");
    UniqueFd cur(::open(path.front() == '/' ? "/" : ".", kDirFlags));
    if (!cur) return fail(path + ": " + std::strerror(errno));
    std::string_view rest = path;
    std::string walked = path.front() == '/' ? "" : ".";
    while (!rest.empty()) {
        auto slash = rest.find('/');
        std::string_view comp = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (comp.empty() || comp == ".") continue;
        walked.append("/").append(comp);
        UniqueFd next(::openat(cur.get(), std::string(comp).c_str(), kDirFlags));
        if (!next) {
            int err = errno;
            if ((err == ELOOP || err == ENOTDIR) && is_symlink_at(cur.get(), std::string(comp).c_str()))
                return fail(path + ": " + walked + " is a symlink (symlinks are never followed; give the real path)");
            return fail(path + ": " + walked + ": " + std::strerror(err));
        }
        cur = std::move(next);
    }
    return cur;
}

Result<WalkResult> walk_tree(int root_fd, const GlobFilter& filter, int max_depth) {
    auto names = list_names(root_fd);
    if (!names) return fail("cannot list the directory: " + names.error().message);
    Walker w(filter, max_depth);
    w.walk(root_fd, "", 0);
    return w.take();
}

Result<OpenedFile> open_regular_beneath(int root_fd, const std::string& relative) {
    UniqueFd parent;  // empty: the root itself
    int dir_fd = root_fd;
    std::string_view rest = relative;
    while (true) {
        auto slash = rest.find('/');
        std::string comp(rest.substr(0, slash));
        if (comp.empty() || comp == "." || comp == "..") return fail("invalid path component");
        if (slash == std::string_view::npos) {
            struct stat st {};
            if (::fstatat(dir_fd, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail(unreadable(errno));
            if (!S_ISREG(st.st_mode)) return fail(reason_for_type(st.st_mode));
            OpenedFile f;
            f.fd.reset(::openat(dir_fd, comp.c_str(), kFileFlags));
            if (!f.fd) return fail(open_error_reason(dir_fd, comp.c_str(), errno));
            if (::fstat(f.fd.get(), &f.st) != 0) return fail(unreadable(errno));
            if (!S_ISREG(f.st.st_mode)) return fail(reason_for_type(f.st.st_mode));
            // O_NONBLOCK only mattered for the open; reads of a regular file should behave normally.
            int fl = ::fcntl(f.fd.get(), F_GETFL);
            if (fl >= 0) ::fcntl(f.fd.get(), F_SETFL, fl & ~O_NONBLOCK);
            return f;
        }
        UniqueFd next(::openat(dir_fd, comp.c_str(), kDirFlags));
        if (!next) return fail(open_error_reason(dir_fd, comp.c_str(), errno));
        parent = std::move(next);
        dir_fd = parent.get();
        rest.remove_prefix(slash + 1);
    }
}

}  // namespace ks::push
