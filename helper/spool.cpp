#include "spool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <ctime>

#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>

#include "fs_ops.hpp"
#include "push_contract.hpp"
#include "sha256.hpp"

namespace ks::push {
namespace {

using json = nlohmann::json;

constexpr std::size_t kCopyBuffer = 1 << 20;

// Opens SPOOL itself (creating it 0755 if needed); an admin's path, so a symlink to it is followed.
Result<UniqueFd> open_spool_root(const std::string& spool_root) {
    if (::mkdir(spool_root.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("spool " + spool_root);
    UniqueFd root(::open(spool_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno("spool " + spool_root);
    return root;
}

// Opens (creating it with `mode` if needed) a directory under parent_fd, never through a symlink; `created` tells
// whether this call made it. `shown` names it in errors.
Result<UniqueFd> make_spool_dir(int parent_fd, const std::string& name, const std::string& shown, mode_t mode,
                                bool& created) {
    auto dir = make_dir_at(parent_fd, name, mode, created);
    if (!dir) return fail(shown + ": " + dir.error().message);
    return dir;
}

Result<void> check_owner(int fd, const std::string& shown, uid_t owner) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail_errno(shown);
    if (st.st_uid != owner)
        return fail(shown + " belongs to uid " + std::to_string(st.st_uid) + ", expected " + std::to_string(owner));
    return {};
}

// Opens (creating it if needed) a directory under parent_fd that must be a real directory owned by `owner`.
Result<UniqueFd> open_owned_dir(int parent_fd, const std::string& name, const std::string& shown, mode_t mode,
                                uid_t owner) {
    bool created = false;
    TRY_ASSIGN(auto fd, make_spool_dir(parent_fd, name, shown, mode, created));
    TRY(check_owner(fd.get(), shown, owner));
    return fd;
}

// Names in a directory; none when it cannot be read (removal and accounting then do what they can).
std::vector<std::string> names_in(int dir_fd) { return list_dir(dir_fd).value_or(std::vector<std::string>{}); }

json identity_json(const wire::TransferIdentity& id) {
    json j = {{"cluster", id.cluster},
              {"job", id.job_id},
              {"node", id.node},
              {"user", id.user},
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
    for (auto [name, field] :
         {std::pair{"cluster", &e.id.cluster}, std::pair{"job", &e.id.job_id}, std::pair{"node", &e.id.node},
          std::pair{"user", &e.id.user}, std::pair{"transfer_id", &e.id.transfer_id}}) {
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
    TRY_ASSIGN(auto root, open_spool_root(spool_root));
    std::string name = std::to_string(uid);
    std::string shown = spool_root + "/" + name;
    bool created = false;
    TRY_ASSIGN(auto dir, make_spool_dir(root.get(), name, shown, 0700, created));
    if (!created) return check_owner(dir.get(), shown, uid);
    if (::fchown(dir.get(), uid, gid) != 0) return fail_errno("chown " + shown);
    return {};
}

Result<SpoolWriter> SpoolWriter::begin(const std::string& spool_root, uid_t uid, const std::string& transfer_id,
                                       SpoolLimits limits) {
    SpoolWriter w;
    w.limits_ = limits;
    TRY_ASSIGN(auto root, open_spool_root(spool_root));
    w.user_dir_ = spool_root + "/" + std::to_string(uid);
    TRY_ASSIGN(w.user_fd_, open_owned_dir(root.get(), std::to_string(uid), w.user_dir_, 0700, ::geteuid()));
    w.used_ = allocated_bytes(w.user_fd_.get());
    w.final_name_ = transfer_id;
    w.partial_name_ = "." + transfer_id + ".partial-" + std::to_string(::getpid());
    (void)remove_entry(w.user_fd_.get(), w.partial_name_);  // a leftover of a crashed run with our pid
    TRY_ASSIGN(w.entry_fd_, open_owned_dir(w.user_fd_.get(), w.partial_name_, w.user_dir_ + "/" + w.partial_name_, 0700,
                                           ::geteuid()));
    TRY_ASSIGN(w.data_fd_, open_owned_dir(w.entry_fd_.get(), "data", w.user_dir_ + "/" + w.partial_name_ + "/data",
                                          0700, ::geteuid()));
    return w;
}

SpoolWriter::SpoolWriter(SpoolWriter&& o) noexcept
    : user_dir_(std::move(o.user_dir_)), partial_name_(std::move(o.partial_name_)),
      final_name_(std::move(o.final_name_)), user_fd_(std::move(o.user_fd_)), entry_fd_(std::move(o.entry_fd_)),
      data_fd_(std::move(o.data_fd_)), limits_(o.limits_), used_(o.used_),
      committed_(std::exchange(o.committed_, true)) {}

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
    if (::fstat(fd, &src) != 0) return error(errno_error("stat the file to spool").message);
    // Room: what the copy will allocate (its data, not its holes) against the user's share and the free space.
    struct statvfs fs {};
    if (::fstatvfs(user_fd_.get(), &fs) != 0) return error(errno_error("statfs " + user_dir_).message);
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
    if (!out) return error(errno_error(shown).message);
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
        ssize_t n =
            ::pread(fd, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - copy.size)),
                    static_cast<off_t>(copy.size));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return error(errno_error("reading the file to spool").message);
        if (n == 0) break;  // it shrank: the copy ends here
        if (::pwrite(out.get(), buf.data(), static_cast<std::size_t>(n), static_cast<off_t>(copy.size)) != n)
            return error(errno_error(shown).message, errno == ENOSPC || errno == EDQUOT);
        sha.update(buf.data(), static_cast<std::size_t>(n));
        copy.size += static_cast<std::uint64_t>(n);
    }
    if (::ftruncate(out.get(), static_cast<off_t>(copy.size)) != 0)
        return error(errno_error("truncate " + shown).message, errno == ENOSPC || errno == EDQUOT);
    struct stat written {};
    if (::fstat(out.get(), &written) == 0) used_ += static_cast<std::uint64_t>(written.st_blocks) * 512;
    copy.sha256 = sha.finish_hex();  // durability: commit() syncs the whole file system once, before transfer.json
    return copy;
}

Result<std::string> SpoolWriter::commit(const SpoolEntry& entry,
                                        const std::function<std::string(std::string_view)>& sign) {
    std::string text = spool_entry_to_json(entry);
    const std::string entry_dir = user_dir_ + "/" + partial_name_;
    if (std::string signature = sign ? sign(text) : std::string(); !signature.empty()) {
        auto sig = create_file_at(entry_fd_.get(), kSpoolSignatureFile, 0600);
        if (!sig) return fail(entry_dir + ": " + sig.error().message);
        TRY(write_all(sig->get(), signature + "\n", kSpoolSignatureFile));
    }
    // One syncfs for all data files and the signature (an fsync per file made spooling 10,000 small files take tens
    // of seconds).
    if (::syncfs(data_fd_.get()) != 0) return fail_errno("syncfs " + user_dir_);
    TRY(fsync_fd(data_fd_.get(), "spool data directory"));
    // Temporary file, fsync, rename, fsync of the entry directory: transfer.json exists only complete.
    if (auto ok =
            write_file_atomic(entry_fd_.get(), entry_fd_.get(), kSpoolEntryFile, text, {.mode = 0600, .durable = true});
        !ok)
        return fail(entry_dir + ": " + ok.error().message);
    // An older entry of the same transfer is superseded: this one's manifest is complete and newer.
    struct stat st {};
    if (::fstatat(user_fd_.get(), final_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        std::string old = "." + final_name_ + ".old-" + std::to_string(::getpid());
        if (::renameat(user_fd_.get(), final_name_.c_str(), user_fd_.get(), old.c_str()) != 0)
            return fail_errno("moving the older spool entry " + final_name_ + " aside");
        (void)remove_entry(user_fd_.get(), old);
    }
    if (::renameat(user_fd_.get(), partial_name_.c_str(), user_fd_.get(), final_name_.c_str()) != 0)
        return fail_errno("rename spool entry into place");
    TRY(fsync_fd(user_fd_.get(), user_dir_));
    committed_ = true;
    return user_dir_ + "/" + final_name_;
}

Result<void> remove_entry(int parent_fd, const std::string& name) {
    auto entry = open_dir_at(parent_fd, name);
    if (!entry) return fail("spool entry: " + entry.error().message);
    if (auto data = open_dir_at(entry->get(), "data")) {
        for (const auto& n : names_in(data->get()))
            if (::unlinkat(data->get(), n.c_str(), 0) != 0) return fail_errno("remove data/" + n);
        data->reset();
        if (::unlinkat(entry->get(), "data", AT_REMOVEDIR) != 0) return fail_errno("remove data/");
    }
    for (const auto& n : names_in(entry->get()))
        if (::unlinkat(entry->get(), n.c_str(), 0) != 0) return fail_errno("remove " + n);
    entry->reset();
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0) return fail_errno("remove " + name);
    return {};
}

bool is_complete_entry(int entry_fd, struct stat* json) {
    struct stat st {};
    const bool complete = ::fstatat(entry_fd, kSpoolEntryFile, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (complete && json) *json = st;
    return complete;
}

std::vector<DirEntry> visible_entries(int dir_fd) {
    auto all = list_dir_entries(dir_fd);
    if (!all) return {};
    std::erase_if(*all, [](const DirEntry& e) { return e.name.front() == '.'; });
    return std::move(*all);
}

std::uint64_t allocated_bytes(int dir_fd) {
    std::uint64_t total = 0;
    for (const auto& n : names_in(dir_fd)) {
        struct stat st {};
        if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        total += static_cast<std::uint64_t>(st.st_blocks) * 512;
        if (!S_ISDIR(st.st_mode)) continue;
        if (auto sub = open_dir_at(dir_fd, n))
            total += allocated_bytes(sub->get());  // entries are two levels deep (entry/data/<index>)
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
        if (!pid || *pid == 0 || *pid > 0x7fffffff ||
            ::fstatat(user_dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        // EPERM: the process exists (it may be root's push writing it now).
        const bool alive = ::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM;
        if (alive && now - st.st_mtime < kMaxAge) continue;
        if (remove_entry(user_dir_fd, n)) ++removed;
    }
    return removed;
}

}  // namespace ks::push
