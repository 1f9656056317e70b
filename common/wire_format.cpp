#include "wire_format.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "push_contract.hpp"
#include "sha256.hpp"

namespace ks::wire {
namespace {

using json = nlohmann::json;

const std::string* find(const Headers& headers, std::string_view name) {
    // Last occurrence wins, as in Kafka clients that expose headers as a map.
    const std::string* found = nullptr;
    for (const auto& [k, v] : headers)
        if (k == name) found = &v;
    return found;
}

Result<std::string> required(const Headers& headers, std::string_view name) {
    const std::string* v = find(headers, name);
    if (!v) return fail("missing header " + std::string(name));
    return *v;
}

Result<std::uint64_t> required_u64(const Headers& headers, std::string_view name) {
    TRY_ASSIGN(auto v, required(headers, name));
    auto n = parse_u64(v);
    if (!n) return fail("header " + std::string(name) + ": " + n.error().message);
    return *n;
}

std::string mode_octal(std::uint32_t mode) {
    char buf[16];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, mode & 07777u, 8);
    (void)ec;
    return std::string(buf, end);
}


Result<std::string> json_path(const json& entry) {
    if (entry.contains("path")) {
        if (!entry["path"].is_string()) return fail("\"path\" is not a string");
        return entry["path"].get<std::string>();
    }
    if (entry.contains("path_b64")) {
        if (!entry["path_b64"].is_string()) return fail("\"path_b64\" is not a string");
        return base64_decode(entry["path_b64"].get<std::string>());
    }
    return fail("entry has neither \"path\" nor \"path_b64\"");
}

void put_path(json& entry, const std::string& path) {
    if (is_valid_utf8(path))
        entry["path"] = path;
    else
        entry["path_b64"] = base64_encode(path);
}

template <class T>
Result<T> get_field(const json& obj, const char* name) {
    if (!obj.contains(name)) return fail(std::string("missing \"") + name + "\"");
    const json& v = obj[name];
    if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) return fail(std::string("\"") + name + "\" is not a string");
    } else if constexpr (std::is_unsigned_v<T>) {
        if (!v.is_number_unsigned()) return fail(std::string("\"") + name + "\" is not a non-negative integer");
        if (v.get<std::uint64_t>() > std::numeric_limits<T>::max())
            return fail(std::string("\"") + name + "\" is out of range");
    } else {
        if (!v.is_number_integer()) return fail(std::string("\"") + name + "\" is not an integer");
        auto n = v.get<std::int64_t>();
        if (n < std::numeric_limits<T>::min() || n > std::numeric_limits<T>::max())
            return fail(std::string("\"") + name + "\" is out of range");
    }
    return v.get<T>();
}

json job_json(const JobInfo& info) {
    json job;
    job["id"] = info.job_id;
    job["user"] = info.user;
    job["uid"] = info.uid;
    job["gid"] = info.gid;
    job["node"] = info.node;
    job["cluster"] = info.cluster;
    job["nodes"] = info.nodes;
    job["exit_code"] = info.exit_code ? json(*info.exit_code) : json(nullptr);
    if (!info.instance.empty()) job["instance"] = info.instance;
    return job;
}

// The "job" object of a manifest or an open message; `what` prefixes the errors.
Result<JobInfo> parse_job(const json& j, const std::string& what) {
    if (!j.contains("job") || !j["job"].is_object()) return fail(what + ": missing \"job\" object");
    const json& job = j["job"];
    auto id = get_field<std::string>(job, "id");
    auto user = get_field<std::string>(job, "user");
    auto node = get_field<std::string>(job, "node");
    auto cluster = get_field<std::string>(job, "cluster");
    auto uid = get_field<std::int64_t>(job, "uid");
    auto gid = get_field<std::int64_t>(job, "gid");
    auto nodes = get_field<std::uint32_t>(job, "nodes");
    for (auto* r : {&id, &user, &node, &cluster})
        if (!*r) return fail(what + ": job: " + r->error().message);
    for (auto* r : {&uid, &gid})
        if (!*r) return fail(what + ": job: " + r->error().message);
    if (!nodes) return fail(what + ": job: " + nodes.error().message);
    if (*nodes == 0) return fail(what + ": job: \"nodes\" must be at least 1");
    JobInfo info{*id, *user, *uid, *gid, *node, *cluster, *nodes, std::nullopt};
    if (job.contains("exit_code") && !job["exit_code"].is_null()) {
        auto ec = get_field<std::int32_t>(job, "exit_code");
        if (!ec) return fail(what + ": job: " + ec.error().message);
        info.exit_code = *ec;
    }
    if (job.contains("instance")) {
        auto inst = get_field<std::string>(job, "instance");
        if (!inst || !push::valid_job_instance(*inst)) return fail(what + ": job: malformed \"instance\"");
        info.instance = *inst;
    }
    return info;
}

}  // namespace

std::string make_transfer_id(std::string_view cluster, std::string_view job_id, std::string_view node,
                             std::string_view instance) {
    std::string material = "ks-transfer-v1";
    for (auto part : {cluster, job_id, node}) {
        material.push_back('\0');
        material.append(part);
    }
    if (!instance.empty()) {  // appended only when present, so ids without an instance stay what they were
        material.push_back('\0');
        material.append(instance);
    }
    return sha256_hex(material).substr(0, 32);
}

std::string message_key(const TransferIdentity& id) { return id.cluster + "/" + id.job_id + "/" + id.node; }

static void put_identity(Headers& h, const TransferIdentity& id, std::string_view type) {
    h.emplace_back(header::version, std::to_string(kVersion));
    h.emplace_back(header::type, type);
    h.emplace_back(header::transfer, id.transfer_id);
    h.emplace_back(header::cluster, id.cluster);
    h.emplace_back(header::job, id.job_id);
    h.emplace_back(header::node, id.node);
    h.emplace_back(header::user, id.user);
    if (!id.instance.empty()) h.emplace_back(header::instance, id.instance);
}

Headers encode_chunk(const ChunkHeader& chunk) {
    Headers h;
    h.reserve(13);
    put_identity(h, chunk.id, "chunk");
    h.emplace_back(header::path, chunk.file.path);
    h.emplace_back(header::file, std::to_string(chunk.file.index));
    h.emplace_back(header::size, std::to_string(chunk.file.size));
    h.emplace_back(header::mode, mode_octal(chunk.file.mode));
    h.emplace_back(header::mtime, std::to_string(chunk.file.mtime_ns));
    h.emplace_back(header::offset, std::to_string(chunk.offset));
    return h;
}

bool valid_transfer_id(std::string_view s) {
    if (s.size() != 32) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Headers encode_open_headers(const TransferIdentity& id) {
    Headers h;
    put_identity(h, id, "open");
    return h;
}

bool valid_identity_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    auto ok = [](char c, bool first) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
        return !first && (c == '.' || c == '-' || c == '@' || c == '+');
    };
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!ok(s[i], i == 0)) return false;
    return true;
}

Result<void> check_identity_names(const std::string& cluster, const std::string& job, const std::string& node,
                                  const std::string& user) {
    for (auto [what, value] : {std::pair{"job id", &job}, std::pair{"node", &node}, std::pair{"user", &user},
                               std::pair{"cluster", &cluster}}) {
        if (value == &cluster && value->empty()) continue;
        if (!valid_identity_name(*value))
            return fail(std::string(what) + " \"" + value->substr(0, 64) +
                        "\" is not a valid name (1-128 characters of [A-Za-z0-9._@+-], starting with a letter, a digit "
                        "or '_')");
    }
    return {};
}

Headers encode_manifest_headers(const TransferIdentity& id, std::uint32_t part, std::uint32_t parts) {
    Headers h;
    put_identity(h, id, "manifest");
    h.emplace_back(header::part, std::to_string(part));
    h.emplace_back(header::parts, std::to_string(parts));
    return h;
}

Result<MessageType> message_type(const Headers& headers) {
    const std::string* v = find(headers, header::version);
    const std::string* t = find(headers, header::type);
    if (!v && !t) return MessageType::record;  // the sink then requires the value to be a record
    if (!v) return fail("not a kafka-stream message (no ks.v header)");
    if (*v != std::to_string(kVersion)) return fail("unsupported wire format version \"" + *v + "\"");
    if (!t) return fail("missing header ks.type");
    if (*t == "open") return MessageType::open;
    if (*t == "chunk") return MessageType::chunk;
    if (*t == "manifest") return MessageType::manifest;
    if (*t == "record") return MessageType::record;
    return fail("unknown message type \"" + *t + "\"");
}

Result<TransferIdentity> decode_identity(const Headers& headers) {
    TransferIdentity id;
    for (auto [name, field] : {std::pair{header::transfer, &id.transfer_id}, std::pair{header::cluster, &id.cluster},
                               std::pair{header::job, &id.job_id}, std::pair{header::node, &id.node},
                               std::pair{header::user, &id.user}}) {
        TRY_ASSIGN(*field, required(headers, name));
    }
    if (!valid_transfer_id(id.transfer_id)) return fail("malformed transfer id");
    if (const std::string* inst = find(headers, header::instance)) {
        if (!push::valid_job_instance(*inst)) return fail("malformed header ks.instance");
        id.instance = *inst;
    }
    return id;
}

static Result<ChunkHeader> decode_file_headers(const Headers& headers);

Result<ChunkHeader> decode_chunk(const Headers& headers) {
    TRY_ASSIGN(auto type, message_type(headers));
    if (type != MessageType::chunk) return fail("not a chunk message");
    return decode_file_headers(headers);
}

// Identity, path, file index, size, mode, mtime and offset.
static Result<ChunkHeader> decode_file_headers(const Headers& headers) {
    ChunkHeader c;
    TRY_ASSIGN(c.id, decode_identity(headers));
    TRY_ASSIGN(c.file.path, required(headers, header::path));
    auto index = required_u64(headers, header::file);
    auto size = required_u64(headers, header::size);
    auto offset = required_u64(headers, header::offset);
    for (auto* r : {&index, &size, &offset})
        if (!*r) return std::unexpected(r->error());
    c.file.index = *index;
    c.file.size = *size;
    c.offset = *offset;
    if (c.offset > c.file.size) return fail("chunk offset beyond the declared file size");
    TRY_ASSIGN(auto mode, required(headers, header::mode));
    std::uint32_t m = 0;
    auto [p, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), m, 8);
    if (ec != std::errc() || p != mode.data() + mode.size() || mode.empty() || m > 07777)
        return fail("header ks.mode: not an octal permission");
    c.file.mode = m;
    TRY_ASSIGN(auto mtime, required(headers, header::mtime));
    auto mt = parse_i64(mtime);
    if (!mt) return fail("header ks.mtime: " + mt.error().message);
    c.file.mtime_ns = *mt;
    return c;
}

std::uint64_t Manifest::total_bytes() const {
    std::uint64_t total = 0;
    for (const auto& f : files) total += f.meta.size;
    return total;
}

TransferIdentity identity_of(const JobInfo& job, const std::string& transfer_id) {
    return TransferIdentity{job.cluster, job.job_id, job.node, job.user, transfer_id, job.instance};
}

std::string open_to_json(const TransferOpen& open) {
    json j;
    j["version"] = open.version;
    j["transfer_id"] = open.transfer_id;
    j["job"] = job_json(open.job);
    return j.dump();
}

Result<TransferOpen> parse_open(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return fail("open message is not a JSON object");
    TransferOpen open;
    auto version = get_field<int>(j, "version");
    if (!version) return fail("open message: " + version.error().message);
    if (*version != kVersion) return fail("open message: unsupported version " + std::to_string(*version));
    auto tid = get_field<std::string>(j, "transfer_id");
    if (!tid || !valid_transfer_id(*tid)) return fail("open message: missing or malformed \"transfer_id\"");
    open.transfer_id = *tid;
    TRY_ASSIGN(open.job, parse_job(j, "open message"));
    return open;
}

std::string manifest_to_json(const Manifest& m) {
    json j;
    j["version"] = m.version;
    j["transfer_id"] = m.transfer_id;
    j["part"] = m.part;
    j["parts"] = m.parts;
    j["job"] = job_json(m.job);
    j["chunk_bytes"] = m.chunk_bytes;
    json files = json::array();
    for (const auto& f : m.files) {
        json e;
        put_path(e, f.meta.path);
        e["index"] = f.meta.index;
        e["size"] = f.meta.size;
        e["mode"] = f.meta.mode;
        e["mtime_ns"] = f.meta.mtime_ns;
        e["sha256"] = f.sha256;
        e["chunks"] = f.chunks;
        if (!f.format.empty()) e["format"] = f.format;
        if (!f.timestamps.empty()) {
            json runs = json::array();
            for (const auto& [offset, stamp] : f.timestamps) runs.push_back(json::array({offset, stamp}));
            e["timestamps"] = std::move(runs);
        }
        files.push_back(std::move(e));
    }
    j["files"] = std::move(files);
    json skipped = json::array();
    for (const auto& s : m.skipped) {
        json e;
        put_path(e, s.path);
        e["reason"] = s.reason;
        skipped.push_back(std::move(e));
    }
    j["skipped"] = std::move(skipped);
    j["total_bytes"] = m.total_bytes();
    return j.dump();
}

// [[offset, "seconds"], ...]: offsets strictly increasing from 0 and below the file size, timestamps JSON numbers.
static Result<std::vector<std::pair<std::uint64_t, std::string>>> parse_timestamp_runs(const json& runs,
                                                                                      std::uint64_t size) {
    if (!runs.is_array()) return fail("\"timestamps\" is not an array");
    std::vector<std::pair<std::uint64_t, std::string>> out;
    for (const json& r : runs) {
        if (!r.is_array() || r.size() != 2 || !r[0].is_number_unsigned() || !r[1].is_string())
            return fail("\"timestamps\": an entry is not [offset, \"seconds\"]");
        const auto offset = r[0].get<std::uint64_t>();
        const auto stamp = r[1].get<std::string>();
        if (out.empty() ? offset != 0 : offset <= out.back().first) return fail("\"timestamps\": offsets out of order");
        if (offset >= size) return fail("\"timestamps\": offset past the end of the file");
        const json number = json::parse(stamp, nullptr, false);
        if (stamp.empty() || !number.is_number() || stamp.find_first_not_of("0123456789.-+eE") != std::string::npos)
            return fail("\"timestamps\": \"" + stamp.substr(0, 40) + "\" is not a number");
        out.emplace_back(offset, stamp);
    }
    return out;
}

Result<Manifest> parse_manifest(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return fail("manifest is not a JSON object");
    Manifest m;
    auto version = get_field<int>(j, "version");
    if (!version) return fail("manifest: " + version.error().message);
    if (*version != kVersion) return fail("manifest: unsupported version " + std::to_string(*version));
    auto tid = get_field<std::string>(j, "transfer_id");
    if (!tid || !valid_transfer_id(*tid)) return fail("manifest: missing or malformed \"transfer_id\"");
    m.transfer_id = *tid;
    if (j.contains("part") || j.contains("parts")) {
        auto part = get_field<std::uint32_t>(j, "part");
        auto parts = get_field<std::uint32_t>(j, "parts");
        if (!part || !parts) return fail("manifest: \"part\" and \"parts\" must both be non-negative integers");
        if (*parts == 0 || *parts > kMaxManifestParts || *part >= *parts)
            return fail("manifest: part " + std::to_string(*part) + " of " + std::to_string(*parts) + " is out of range");
        m.part = *part;
        m.parts = *parts;
    }
    TRY_ASSIGN(m.job, parse_job(j, "manifest"));
    auto chunk = get_field<std::uint64_t>(j, "chunk_bytes");
    if (!chunk || *chunk == 0 || *chunk > kMaxChunkBytes) return fail("manifest: missing or invalid \"chunk_bytes\"");
    m.chunk_bytes = *chunk;
    if (!j.contains("files") || !j["files"].is_array()) return fail("manifest: missing \"files\" array");
    std::set<std::uint64_t> seen;
    for (const json& e : j["files"]) {
        if (!e.is_object()) return fail("manifest: a file entry is not an object");
        FileEntry f;
        auto path = json_path(e);
        if (!path) return fail("manifest: file: " + path.error().message);
        f.meta.path = std::move(*path);
        auto index = get_field<std::uint64_t>(e, "index");
        auto size = get_field<std::uint64_t>(e, "size");
        auto chunks = get_field<std::uint64_t>(e, "chunks");
        auto mode = get_field<std::uint32_t>(e, "mode");
        auto mtime = get_field<std::int64_t>(e, "mtime_ns");
        auto sha = get_field<std::string>(e, "sha256");
        for (auto* r : {&index, &size, &chunks})
            if (!*r) return fail("manifest: file: " + r->error().message);
        if (!mode) return fail("manifest: file: " + mode.error().message);
        if (!mtime) return fail("manifest: file: " + mtime.error().message);
        if (!sha || sha->size() != 64 || sha->find_first_not_of("0123456789abcdef") != std::string::npos)
            return fail("manifest: file: missing or malformed \"sha256\"");
        if (*mode > 07777) return fail("manifest: file: \"mode\" out of range");
        if (!seen.insert(*index).second) return fail("manifest: duplicate file index " + std::to_string(*index));
        f.meta.index = *index;
        f.meta.size = *size;
        f.meta.mode = *mode;
        f.meta.mtime_ns = *mtime;
        f.sha256 = *sha;
        f.chunks = *chunks;
        if (e.contains("format")) {
            // Informational (how the file travelled); an unknown value is kept, never fatal.
            if (!e["format"].is_string()) return fail("manifest: file: \"format\" is not a string");
            f.format = e["format"].get<std::string>();
        }
        if (e.contains("timestamps")) {
            auto runs = parse_timestamp_runs(e["timestamps"], f.meta.size);
            if (!runs) return fail("manifest: file: " + runs.error().message);
            f.timestamps = std::move(*runs);
        }
        m.files.push_back(std::move(f));
    }
    if (j.contains("skipped")) {
        if (!j["skipped"].is_array()) return fail("manifest: \"skipped\" is not an array");
        for (const json& e : j["skipped"]) {
            if (!e.is_object()) return fail("manifest: a skipped entry is not an object");
            auto path = json_path(e);
            auto reason = get_field<std::string>(e, "reason");
            if (!path) return fail("manifest: skipped: " + path.error().message);
            if (!reason) return fail("manifest: skipped: " + reason.error().message);
            m.skipped.push_back({std::move(*path), std::move(*reason)});
        }
    }
    return m;
}

Result<std::vector<std::string>> manifest_parts_json(const Manifest& manifest, std::size_t max_bytes) {
    std::string whole = manifest_to_json(manifest);
    if (whole.size() <= max_bytes) return std::vector<std::string>{std::move(whole)};
    // Greedy packing by measured entry sizes; the part/parts numbers are rewritten once the count is known, and
    // their width is reserved up front so the sizes stay valid.
    Manifest empty = manifest;
    empty.files.clear();
    empty.skipped.clear();
    empty.part = kMaxManifestParts - 1;
    empty.parts = kMaxManifestParts;
    const std::size_t base = manifest_to_json(empty).size() + 32;  // + room for a longer "total_bytes"
    auto entry_size = [](const auto& e) {
        Manifest one;
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, FileEntry>) one.files.push_back(e); else one.skipped.push_back(e);
        Manifest none;
        return manifest_to_json(one).size() - manifest_to_json(none).size() + 1;  // + the separating comma
    };
    std::vector<Manifest> parts;
    std::size_t used = max_bytes;  // forces a first part
    auto room_for = [&](std::size_t n) {
        if (used + n > max_bytes) {
            if (base + n > max_bytes) return false;
            parts.push_back(empty);
            parts.back().files.clear();
            used = base;
        }
        used += n;
        return true;
    };
    for (const auto& f : manifest.files) {
        if (!room_for(entry_size(f))) return fail("a manifest entry does not fit in " + std::to_string(max_bytes) + " bytes");
        parts.back().files.push_back(f);
    }
    for (const auto& s : manifest.skipped) {
        if (!room_for(entry_size(s))) return fail("a manifest entry does not fit in " + std::to_string(max_bytes) + " bytes");
        parts.back().skipped.push_back(s);
    }
    if (parts.size() > kMaxManifestParts) return fail("manifest needs more than " + std::to_string(kMaxManifestParts) + " parts");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        parts[i].part = static_cast<std::uint32_t>(i);
        parts[i].parts = static_cast<std::uint32_t>(parts.size());
        out.push_back(manifest_to_json(parts[i]));
    }
    return out;
}

Result<Manifest> merge_manifest_parts(std::vector<Manifest> parts) {
    if (parts.empty()) return fail("no manifest parts");
    const std::uint32_t n = parts.front().parts;
    if (parts.size() != n) return fail("manifest has " + std::to_string(parts.size()) + " of " + std::to_string(n) + " parts");
    std::sort(parts.begin(), parts.end(), [](const Manifest& a, const Manifest& b) { return a.part < b.part; });
    Manifest out = parts.front();
    out.files.clear();
    out.skipped.clear();
    std::set<std::uint64_t> seen;
    for (std::uint32_t i = 0; i < n; ++i) {
        Manifest& p = parts[i];
        if (p.part != i || p.parts != n) return fail("manifest parts are inconsistent (missing or repeated part)");
        if (p.transfer_id != out.transfer_id || p.chunk_bytes != out.chunk_bytes || p.job.job_id != out.job.job_id ||
            p.job.node != out.job.node || p.job.user != out.job.user || p.job.cluster != out.job.cluster ||
            p.job.nodes != out.job.nodes || p.job.uid != out.job.uid || p.job.gid != out.job.gid ||
            p.job.instance != out.job.instance)
            return fail("manifest parts disagree on the transfer or the job");
        for (auto& f : p.files) {
            if (!seen.insert(f.meta.index).second)
                return fail("manifest: duplicate file index " + std::to_string(f.meta.index));
            out.files.push_back(std::move(f));
        }
        for (auto& s : p.skipped) out.skipped.push_back(std::move(s));
    }
    out.part = 0;
    out.parts = 1;
    return out;
}

bool is_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view raw) {
    std::string out;
    out.reserve((raw.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < raw.size(); i += 3) {
        std::uint32_t v = (std::uint8_t(raw[i]) << 16) | (std::uint8_t(raw[i + 1]) << 8) | std::uint8_t(raw[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
    }
    if (i < raw.size()) {
        std::uint32_t v = std::uint8_t(raw[i]) << 16;
        if (i + 1 < raw.size()) v |= std::uint8_t(raw[i + 1]) << 8;
        out.push_back(kB64[(v >> 18) & 63]);
        out.push_back(kB64[(v >> 12) & 63]);
        out.push_back(i + 1 < raw.size() ? kB64[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return fail("base64: length is not a multiple of 4");
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            int d;
            if (c == '=' && i + 4 == text.size() && k >= 2) { d = 0; ++pad; }
            else if (pad) return fail("base64: data after padding");
            else {
                const char* p = c ? std::char_traits<char>::find(kB64, 64, c) : nullptr;
                if (!p) return fail("base64: invalid character");
                d = int(p - kB64);
            }
            v = (v << 6) | std::uint32_t(d);
        }
        out.push_back(char((v >> 16) & 0xFF));
        if (pad < 2) out.push_back(char((v >> 8) & 0xFF));
        if (pad < 1) out.push_back(char(v & 0xFF));
    }
    return out;
}

Result<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t v = 0;
    if (text.empty() || text.size() > 20) return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    return v;
}

Result<std::int64_t> parse_i64(std::string_view text) {
    std::int64_t v = 0;
    if (text.empty() || text.size() > 20) return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return fail("not a decimal number: \"" + std::string(text.substr(0, 32)) + "\"");
    return v;
}

}  // namespace ks::wire
