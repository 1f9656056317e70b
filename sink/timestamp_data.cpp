#include "timestamp_data.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>

#include "layout.hpp"
#include "safe_fs.hpp"
#include "safe_path.hpp"

namespace ks::sink {
namespace {

constexpr std::size_t kBlock = 1 << 20;
constexpr const char* kWhat = "the timestamp,data form";

}  // namespace

Result<void> write_timestamp_data(int src_fd, std::uint64_t size, const TimestampRuns& runs, int out_fd) {
    std::string block(kBlock, '\0');
    std::string line;  // the current line so far (it may span blocks)
    std::string out;
    std::size_t run = 0;
    std::uint64_t line_start = 0;
    auto emit = [&](std::uint64_t next_start) -> Result<void> {
        while (run + 1 < runs.size() && runs[run + 1].first <= line_start) ++run;
        if (!line.empty() && line.back() == '\r') line.pop_back();  // "\r\n" ends the line
        out.append(runs.empty() ? std::string_view() : std::string_view(runs[run].second));
        out.push_back(',');
        out.append(line);
        out.push_back('\n');
        line.clear();
        line_start = next_start;
        if (out.size() >= kBlock) {
            TRY(write_all(out_fd, out, kWhat));
            out.clear();
        }
        return {};
    };
    for (std::uint64_t pos = 0; pos < size;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, size - pos));
        ssize_t n = ::pread(src_fd, block.data(), want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("read the rebuilt file: ") + std::strerror(errno));
        if (n == 0) return fail("the rebuilt file is shorter than its manifest says");
        std::string_view view(block.data(), static_cast<std::size_t>(n));
        while (!view.empty()) {
            const std::size_t nl = view.find('\n');
            if (nl == std::string_view::npos) {
                line.append(view);
                break;
            }
            line.append(view.substr(0, nl));
            const std::uint64_t consumed = static_cast<std::uint64_t>(view.data() - block.data()) + nl + 1;
            TRY(emit(pos + consumed));
            view.remove_prefix(nl + 1);
        }
        pos += static_cast<std::uint64_t>(n);
    }
    if (line_start < size) TRY(emit(size));
    return write_all(out_fd, out, kWhat);
}

}  // namespace ks::sink

// ---- the extra output file ---------------------------------------------------------------------------------------

namespace ks::sink {
namespace {

constexpr std::size_t kMaxNameBytes = 255;  // NAME_MAX of the usual file systems

struct Opened {
    UniqueFd fd;
    std::uint64_t size = 0;
};

// A regular file (no symlink) opened read-only with its size, or nothing if absent.
Result<std::optional<Opened>> open_regular(int dirfd, const std::string& name) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ELOOP) return std::nullopt;
        return fail_errno("open " + name);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + name);
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return Opened{std::move(fd), static_cast<std::uint64_t>(st.st_size)};
}

// The file at `target` below the root, if it is there.
Result<std::optional<Opened>> open_placed(int rootfd, const std::vector<std::string>& target) {
    auto parent = open_dir_path(rootfd, std::vector<std::string>(target.begin(), target.end() - 1), false);
    if (!parent) return std::nullopt;
    return open_regular(parent->get(), target.back());
}

// The source's bytes, verified against the manifest: from staging, or in place after a crash.
Result<std::optional<Opened>> verified_source(int rootfd, int tdir, StagingArea& staging, const std::string& transfer,
                                              const PlannedFile& f) {
    auto staged = open_regular(tdir, staged_file_name(f.index));
    TRY(staged);
    if (!*staged) {
        staged = open_placed(rootfd, f.target);
        TRY(staged);
        if (!*staged || (*staged)->size != f.size) return std::nullopt;
    }
    if ((*staged)->size < f.size) return std::nullopt;
    auto digest = staging.known_digest(transfer, f.index, f.size);
    if (!digest) {
        TRY_ASSIGN(digest, sha256_of_fd((*staged)->fd.get(), f.size));
    }
    if (*digest != f.sha256) return std::nullopt;
    (*staged)->size = f.size;
    return staged;
}

}  // namespace

Result<void> plan_timestamp_data(int rootfd, StagingArea& staging, const std::string& transfer,
                                 const wire::Manifest& manifest, TransferPlan& plan, const Log& log) {
    std::set<std::vector<std::string>> taken;
    for (const auto& f : plan.files) taken.insert(f.target);
    TRY_ASSIGN(auto tdir, staging.open_transfer_dir(transfer, false));
    std::vector<PlannedFile> extra;
    for (const auto& entry : manifest.files) {
        if (entry.format != wire::kFormatRecords || entry.meta.index >= kTimestampDataIndexBase) continue;
        auto src = std::find_if(plan.files.begin(), plan.files.end(),
                                [&](const PlannedFile& p) { return p.index == entry.meta.index; });
        if (src == plan.files.end()) continue;
        PlannedFile d = *src;
        d.index = kTimestampDataIndexBase + src->index;
        d.path += kTimestampDataSuffix;
        d.target.back() += kTimestampDataSuffix;
        if (d.target.back().size() > kMaxNameBytes) {
            log.warning("transfer " + transfer + ": no timestamp,data form of \"" + printable(src->path) +
                        "\": the name would be too long");
            continue;
        }
        if (taken.count(d.target)) {
            log.warning("transfer " + transfer + ": no timestamp,data form of \"" + printable(src->path) +
                        "\": the job has a file of that name");
            continue;
        }
        const std::string dname = staged_file_name(d.index);
        // Staged by an earlier attempt, or placed before a crash: take it as it is (it is derived deterministically).
        auto done = open_regular(tdir.get(), dname);
        TRY(done);
        if (!*done) {
            done = open_placed(rootfd, d.target);
            TRY(done);
        }
        if (!*done) {
            TRY_ASSIGN(auto source, verified_source(rootfd, tdir.get(), staging, transfer, *src));
            if (!source) continue;  // not complete yet: the finalizer waits for the source
            const std::string tmp = unique_temp_name();
            UniqueFd out(::openat(tdir.get(), tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!out) return fail_errno("create the timestamp,data form of " + printable(src->path));
            if (auto ok = write_timestamp_data(source->fd.get(), source->size, entry.timestamps, out.get()); !ok) {
                ::unlinkat(tdir.get(), tmp.c_str(), 0);
                return std::unexpected(ok.error());
            }
            if (::renameat(tdir.get(), tmp.c_str(), tdir.get(), dname.c_str()) != 0)
                return fail_errno("rename the timestamp,data form into staging");
            struct stat st {};
            if (::fstat(out.get(), &st) != 0) return fail_errno("stat " + dname);
            done = Opened{std::move(out), static_cast<std::uint64_t>(st.st_size)};
        }
        TRY_ASSIGN(auto digest, sha256_of_fd((*done)->fd.get(), (*done)->size));
        d.size = (*done)->size;
        d.sha256 = std::move(digest);
        taken.insert(d.target);
        extra.push_back(std::move(d));
    }
    for (auto& d : extra) {
        plan.total_bytes += d.size;
        plan.files.push_back(std::move(d));
    }
    return {};
}

}  // namespace ks::sink
