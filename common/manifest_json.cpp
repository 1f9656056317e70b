#include "manifest_json.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "push_contract.hpp"
#include "text_codec.hpp"

namespace ks::wire {
namespace {

using json = nlohmann::json;

Result<std::string> json_path(const json& entry) {
    if (entry.contains("path")) {
        if (!entry["path"].is_string()) return fail("\"path\" is not a string");
        return entry["path"].get<std::string>();
    }
    if (entry.contains("path_b64")) {
        if (!entry["path_b64"].is_string()) return fail("\"path_b64\" is not a string");
        return text::base64_decode(entry["path_b64"].get<std::string>());
    }
    return fail("entry has neither \"path\" nor \"path_b64\"");
}

void put_path(json& entry, const std::string& path) {
    if (text::is_valid_utf8(path)) entry["path"] = path;
    else entry["path_b64"] = text::base64_encode(path);
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

// The "version" (this one only) and "transfer_id" that open the JSON of a manifest or an open message; `what`
// prefixes the errors.
Result<std::string> versioned_transfer_id(const json& j, const std::string& what) {
    auto version = get_field<int>(j, "version");
    if (!version) return fail(what + ": " + version.error().message);
    if (*version != kVersion) return fail(what + ": unsupported version " + std::to_string(*version));
    auto tid = get_field<std::string>(j, "transfer_id");
    if (!tid || !valid_transfer_id(*tid)) return fail(what + ": missing or malformed \"transfer_id\"");
    return *tid;
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
    TRY_ASSIGN(open.transfer_id, versioned_transfer_id(j, "open message"));
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
    TRY_ASSIGN(m.transfer_id, versioned_transfer_id(j, "manifest"));
    if (j.contains("part") || j.contains("parts")) {
        auto part = get_field<std::uint32_t>(j, "part");
        auto parts = get_field<std::uint32_t>(j, "parts");
        if (!part || !parts) return fail("manifest: \"part\" and \"parts\" must both be non-negative integers");
        if (*parts == 0 || *parts > kMaxManifestParts || *part >= *parts)
            return fail("manifest: part " + std::to_string(*part) + " of " + std::to_string(*parts) +
                        " is out of range");
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
        if constexpr (std::is_same_v<T, FileEntry>) one.files.push_back(e);
        else one.skipped.push_back(e);
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
        if (!room_for(entry_size(f)))
            return fail("a manifest entry does not fit in " + std::to_string(max_bytes) + " bytes");
        parts.back().files.push_back(f);
    }
    for (const auto& s : manifest.skipped) {
        if (!room_for(entry_size(s)))
            return fail("a manifest entry does not fit in " + std::to_string(max_bytes) + " bytes");
        parts.back().skipped.push_back(s);
    }
    if (parts.size() > kMaxManifestParts)
        return fail("manifest needs more than " + std::to_string(kMaxManifestParts) + " parts");
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
    if (parts.size() != n)
        return fail("manifest has " + std::to_string(parts.size()) + " of " + std::to_string(n) + " parts");
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

}  // namespace ks::wire
