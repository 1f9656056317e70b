#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <ctime>

#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "push_contract.hpp"
#include "sha256.hpp"

namespace ks::push {
namespace {

using json = nlohmann::json;

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr std::size_t kCopyBuffer = 1 << 20;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<void> write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(std::strerror(w < 0 ? errno : EIO));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return {};
}

// Opens (creating it if needed) a directory under parent_fd that must be a real directory owned by `owner`.
Result<UniqueFd> open_owned_dir(int parent_fd, const std::string& name, const std::string& shown, mode_t mode,
                                uid_t owner) {
    if (::mkdirat(parent_fd, name.c_str(), mode) != 0 && errno != EEXIST) return fail(errno_text(shown));
    UniqueFd fd(::openat(parent_fd, name.c_str(), kDirFlags));
    if (!fd) return fail(errno_text(shown) + (errno == ENOTDIR || errno == ELOOP ? " (a symlink or not a directory)" : ""));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(errno_text(shown));
    if (st.st_uid != owner)
        return fail(shown + " belongs to uid " + std::to_string(st.st_uid) + ", expected " + std::to_string(owner));
    return fd;
}

std::vector<std::string> names_in(int dir_fd) {
    std::vector<std::string> names;
    int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return names;
    DIR* d = ::fdopendir(dup_fd);
    if (!d) {
        ::close(dup_fd);
        return names;
    }
    ::rewinddir(d);
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    return names;
}

json identity_json(const wire::TransferIdentity& id) {
    json j = {{"cluster", id.cluster}, {"job", id.job_id}, {"node", id.node}, {"user", id.user},
              {"transfer_id", id.transfer_id}};
    if (!id.instance.empty()) j["instance"] = id.instance;
    return j;
}

}  // namespace

std::string spool_entry_to_json(const SpoolEntry& e) {
    json j;
    j["format"] = kSpoolFormat;
    j["topic"] = e.topic;
    if (e.records) j["mode"] = std::string(wire::kFormatRecords);
    j["key"] = wire::message_key(e.id);
    j["identity"] = identity_json(e.id);
    j["manifest"] = json::parse(wire::manifest_to_json(e.manifest));
    j["resend"] = e.resend;
    return j.dump(1);
}

Result<SpoolEntry> parse_spool_entry(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail("transfer.json is not a JSON object");
    if (!j.contains("format") || !j["format"].is_number_integer() || j["format"].get<int>() != kSpoolFormat)
        return fail("transfer.json: unsupported or missing \"format\"");
    SpoolEntry e;
    if (!j.contains("topic") || !j["topic"].is_string()) return fail("transfer.json: missing \"topic\"");
    e.topic = j["topic"].get<std::string>();
    if (j.contains("mode")) {
        if (j["mode"] != std::string(wire::kFormatRecords)) return fail("transfer.json: unknown \"mode\"");
        e.records = true;
    }
    if (!j.contains("identity") || !j["identity"].is_object()) return fail("transfer.json: missing \"identity\"");
    const json& id = j["identity"];
    for (auto [name, field] : {std::pair{"cluster", &e.id.cluster}, std::pair{"job", &e.id.job_id},
                               std::pair{"node", &e.id.node}, std::pair{"user", &e.id.user},
                               std::pair{"transfer_id", &e.id.transfer_id}}) {
        if (!id.contains(name) || !id[name].is_string())
            return fail(std::string("transfer.json: identity: missing \"") + name + "\"");
        *field = id[name].get<std::string>();
    }
    if (id.contains("instance")) {
        if (!id["instance"].is_string() || !valid_job_instance(id["instance"].get<std::string>()))
            return fail("transfer.json: identity: malformed \"instance\"");
        e.id.instance = id["instance"].get<std::string>();
    }
    if (e.id.transfer_id != wire::make_transfer_id(e.id.cluster, e.id.job_id, e.id.node, e.id.instance))
        return fail("transfer.json: transfer id does not match cluster/job/node/instance");
    if (!j.contains("manifest") || !j["manifest"].is_object()) return fail("transfer.json: missing \"manifest\"");
    auto m = wire::parse_manifest(j["manifest"].dump());
    if (!m) return fail("transfer.json: " + m.error().message);
    e.manifest = std::move(*m);
    if (e.manifest.transfer_id != e.id.transfer_id) return fail("transfer.json: manifest belongs to another transfer");
    if (!j.contains("resend") || !j["resend"].is_array()) return fail("transfer.json: missing \"resend\"");
    for (const json& r : j["resend"]) {
        if (!r.is_number_unsigned()) return fail("transfer.json: a \"resend\" index is not a number");
        auto idx = r.get<std::uint64_t>();
        bool listed = false;
        for (const auto& f : e.manifest.files) listed = listed || f.meta.index == idx;
        if (!listed) return fail("transfer.json: resend index " + std::to_string(idx) + " is not in the manifest");
        e.resend.push_back(idx);
    }
    return e;
}

Result<void> prepare_user_spool(const std::string& spool_root, uid_t uid, gid_t gid) {
    if (::mkdir(spool_root.c_str(), 0755) != 0 && errno != EEXIST) return fail(errno_text("spool " + spool_root));
    UniqueFd root(::open(spool_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail(errno_text("spool " + spool_root));
    std::string name = std::to_string(uid);
    std::string shown = spool_root + "/" + name;
    bool created = ::mkdirat(root.get(), name.c_str(), 0700) == 0;
    if (!created && errno != EEXIST) return fail(errno_text(shown));
    UniqueFd dir(::openat(root.get(), name.c_str(), kDirFlags));
    if (!dir) return fail(errno_text(shown) + " (a symlink or not a directory?)");
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return fail(errno_text(shown));
    if (created) {
        if (::fchown(dir.get(), uid, gid) != 0) return fail(errno_text("chown " + shown));
    } else if (st.st_uid != uid) {
        return fail(shown + " belongs to uid " + std::to_string(st.st_uid) + ", not " + std::to_string(uid));
    }
    return {};
}

Result<SpoolWriter> SpoolWriter::begin(const std::string& spool_root, uid_t uid, const std::string& transfer_id,
                                       SpoolLimits limits) {
    SpoolWriter w;
    w.limits_ = limits;
    if (::mkdir(spool_root.c_str(), 0755) != 0 && errno != EEXIST) return fail(errno_text("spool " + spool_root));
    UniqueFd root(::open(spool_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail(errno_text("spool " + spool_root));
    w.user_dir_ = spool_root + "/" + std::to_string(uid);
    TRY_ASSIGN(w.user_fd_, open_owned_dir(root.get(), std::to_string(uid), w.user_dir_, 0700, ::geteuid()));
    w.used_ = allocated_bytes(w.user_fd_.get());
    w.final_name_ = transfer_id;
    w.partial_name_ = "." + transfer_id + ".partial-" + std::to_string(::getpid());
    (void)remove_entry(w.user_fd_.get(), w.partial_name_);  // a leftover of a crashed run with our pid
    TRY_ASSIGN(w.entry_fd_,
               open_owned_dir(w.user_fd_.get(), w.partial_name_, w.user_dir_ + "/" + w.partial_name_, 0700, ::geteuid()));
    TRY_ASSIGN(w.data_fd_, open_owned_dir(w.entry_fd_.get(), "data", w.user_dir_ + "/" + w.partial_name_ + "/data", 0700,
                                          ::geteuid()));
    return w;
}

SpoolWriter::SpoolWriter(SpoolWriter&& o) noexcept
    : user_dir_(std::move(o.user_dir_)), partial_name_(std::move(o.partial_name_)), final_name_(std::move(o.final_name_)),
      user_fd_(std::move(o.user_fd_)), entry_fd_(std::move(o.entry_fd_)), data_fd_(std::move(o.data_fd_)),
      limits_(o.limits_), used_(o.used_), committed_(std::exchange(o.committed_, true)) {}

SpoolWriter::~SpoolWriter() {
    if (!committed_ && user_fd_) {
        data_fd_.reset();
        entry_fd_.reset();
        (void)remove_entry(user_fd_.get(), partial_name_);
    }
}

std::expected<SpooledCopy, SpoolError> SpoolWriter::add_file(std::uint64_t index, int fd) {
    std::string name = std::to_string(index);
    std::string shown = user_dir_ + "/" + partial_name_ + "/data/" + name;
    auto error = [](std::string m, bool full = false) { return std::unexpected(SpoolError{std::move(m), full}); };
    struct stat src {};
    if (::fstat(fd, &src) != 0) return error(errno_text("stat the file to spool"));
    // Room: what the copy will allocate (its data, not its holes) against the user's share and the free space.
    struct statvfs fs {};
    if (::fstatvfs(user_fd_.get(), &fs) != 0) return error(errno_text("statfs " + user_dir_));
    const std::uint64_t total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    const std::uint64_t need = static_cast<std::uint64_t>(src.st_blocks) * 512;
    const std::uint64_t share = limits_.max_bytes ? limits_.max_bytes : total / 4;
    if (used_ + need > share)
        return error(user_dir_ + " would hold " + std::to_string(used_ + need) + " bytes, above its limit of " +
                         std::to_string(share) + " (stream.spool.max.bytes)",
                     true);
    const std::uint64_t floor = total / 100 * limits_.min_free_percent;
    if (need + floor > free)
        return error("the spool's file system would have less than " + std::to_string(limits_.min_free_percent) +
                         "% free (stream.spool.min.free.percent)",
                     true);
    UniqueFd out(::openat(data_fd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return error(errno_text(shown));
    std::string buf(kCopyBuffer, '\0');
    const std::string zeros(kCopyBuffer, '\0');
    Sha256 sha;
    SpooledCopy copy;
    const std::uint64_t size = static_cast<std::uint64_t>(src.st_size);
    while (copy.size < size) {
        // Skip holes: they are hashed as the zeros they read as, and stay holes in the copy.
        off_t data = ::lseek(fd, static_cast<off_t>(copy.size), SEEK_DATA);
        std::uint64_t next = data < 0 ? size : std::min<std::uint64_t>(static_cast<std::uint64_t>(data), size);
        if (data < 0 && errno != ENXIO) next = copy.size;  // SEEK_DATA unsupported: copy everything
        while (copy.size < next) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), next - copy.size));
            sha.update(zeros.data(), n);
            copy.size += n;
        }
        if (copy.size >= size) break;
        ssize_t n = ::pread(fd, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - copy.size)),
                            static_cast<off_t>(copy.size));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return error(errno_text("reading the file to spool"));
        if (n == 0) break;  // it shrank: the copy ends here
        if (::pwrite(out.get(), buf.data(), static_cast<std::size_t>(n), static_cast<off_t>(copy.size)) != n)
            return error(shown + ": " + std::strerror(errno), errno == ENOSPC || errno == EDQUOT);
        sha.update(buf.data(), static_cast<std::size_t>(n));
        copy.size += static_cast<std::uint64_t>(n);
    }
    if (::ftruncate(out.get(), static_cast<off_t>(copy.size)) != 0)
        return error(errno_text("truncate " + shown), errno == ENOSPC || errno == EDQUOT);
    struct stat written {};
    if (::fstat(out.get(), &written) == 0) used_ += static_cast<std::uint64_t>(written.st_blocks) * 512;
    copy.sha256 = sha.finish_hex();  // durability: commit() syncs the whole file system once, before transfer.json
    return copy;
}

Result<std::string> SpoolWriter::commit(const SpoolEntry& entry,
                                        const std::function<std::string(std::string_view)>& sign) {
    std::string text = spool_entry_to_json(entry);
    if (std::string signature = sign ? sign(text) : std::string(); !signature.empty()) {
        UniqueFd sig(::openat(entry_fd_.get(), kSpoolSignatureFile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                              0600));
        if (!sig) return fail(errno_text(user_dir_ + "/" + partial_name_ + "/" + kSpoolSignatureFile));
        signature.push_back('\n');
        if (auto w = write_all(sig.get(), signature.data(), signature.size()); !w)
            return fail(std::string("writing ") + kSpoolSignatureFile + ": " + w.error().message);
    }
    // One syncfs for all data files and the signature (an fsync per file made spooling 10,000 small files take tens
    // of seconds).
    if (::syncfs(data_fd_.get()) != 0) return fail(errno_text("syncfs " + user_dir_));
    const std::string tmp = std::string(kSpoolEntryFile) + ".tmp";
    UniqueFd out(::openat(entry_fd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return fail(errno_text(user_dir_ + "/" + partial_name_ + "/" + tmp));
    auto w = write_all(out.get(), text.data(), text.size());
    if (!w) return fail("writing " + tmp + ": " + w.error().message);
    if (::fsync(out.get()) != 0) return fail(errno_text("fsync " + tmp));
    out.reset();
    if (::fsync(data_fd_.get()) != 0) return fail(errno_text("fsync spool data directory"));
    if (::renameat(entry_fd_.get(), tmp.c_str(), entry_fd_.get(), kSpoolEntryFile) != 0)
        return fail(errno_text("rename " + tmp));
    if (::fsync(entry_fd_.get()) != 0) return fail(errno_text("fsync spool entry"));
    // An older entry of the same transfer is superseded: this one's manifest is complete and newer.
    struct stat st {};
    if (::fstatat(user_fd_.get(), final_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        std::string old = "." + final_name_ + ".old-" + std::to_string(::getpid());
        if (::renameat(user_fd_.get(), final_name_.c_str(), user_fd_.get(), old.c_str()) != 0)
            return fail(errno_text("moving the older spool entry " + final_name_ + " aside"));
        (void)remove_entry(user_fd_.get(), old);
    }
    if (::renameat(user_fd_.get(), partial_name_.c_str(), user_fd_.get(), final_name_.c_str()) != 0)
        return fail(errno_text("rename spool entry into place"));
    if (::fsync(user_fd_.get()) != 0) return fail(errno_text("fsync " + user_dir_));
    committed_ = true;
    return user_dir_ + "/" + final_name_;
}

Result<void> remove_entry(int parent_fd, const std::string& name) {
    UniqueFd entry(::openat(parent_fd, name.c_str(), kDirFlags));
    if (!entry) return fail(errno_text("open spool entry " + name));
    UniqueFd data(::openat(entry.get(), "data", kDirFlags));
    if (data) {
        for (const auto& n : names_in(data.get()))
            if (::unlinkat(data.get(), n.c_str(), 0) != 0) return fail(errno_text("remove data/" + n));
        data.reset();
        if (::unlinkat(entry.get(), "data", AT_REMOVEDIR) != 0) return fail(errno_text("remove data/"));
    }
    for (const auto& n : names_in(entry.get()))
        if (::unlinkat(entry.get(), n.c_str(), 0) != 0) return fail(errno_text("remove " + n));
    entry.reset();
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0) return fail(errno_text("remove " + name));
    return {};
}

std::uint64_t allocated_bytes(int dir_fd) {
    std::uint64_t total = 0;
    for (const auto& n : names_in(dir_fd)) {
        struct stat st {};
        if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        total += static_cast<std::uint64_t>(st.st_blocks) * 512;
        if (!S_ISDIR(st.st_mode)) continue;
        UniqueFd sub(::openat(dir_fd, n.c_str(), kDirFlags));
        if (sub) total += allocated_bytes(sub.get());  // entries are two levels deep (entry/data/<index>)
    }
    return total;
}

std::size_t remove_interrupted_entries(int user_dir_fd) {
    constexpr time_t kMaxAge = 24 * 3600;
    std::size_t removed = 0;
    const time_t now = ::time(nullptr);
    for (const auto& n : names_in(user_dir_fd)) {
        auto mark = n.rfind(".partial-");
        std::size_t skip = sizeof(".partial-") - 1;
        if (mark == std::string::npos) {
            mark = n.rfind(".old-");
            skip = sizeof(".old-") - 1;
        }
        if (n.front() != '.' || mark == std::string::npos || mark == 0) continue;
        auto pid = text::parse_u64(std::string_view(n).substr(mark + skip));
        struct stat st {};
        if (!pid || *pid == 0 || *pid > 0x7fffffff || ::fstatat(user_dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        // EPERM: the process exists (it may be root's push writing it now).
        const bool alive = ::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM;
        if (alive && now - st.st_mtime < kMaxAge) continue;
        if (remove_entry(user_dir_fd, n)) ++removed;
    }
    return removed;
}

}  // namespace ks::push
