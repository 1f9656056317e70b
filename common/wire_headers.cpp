#include "wire_headers.hpp"

#include <charconv>

#include "push_contract.hpp"
#include "sha256.hpp"
#include "text_codec.hpp"

namespace ks::wire {
namespace {

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
    auto n = text::parse_u64(v);
    if (!n) return fail("header " + std::string(name) + ": " + n.error().message);
    return *n;
}

std::string mode_octal(std::uint32_t mode) {
    char buf[16];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, mode & 07777u, 8);
    (void)ec;
    return std::string(buf, end);
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
    for (auto [name, field] :
         {std::pair{header::transfer, &id.transfer_id}, std::pair{header::cluster, &id.cluster},
          std::pair{header::job, &id.job_id}, std::pair{header::node, &id.node}, std::pair{header::user, &id.user}}) {
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
    auto mt = text::parse_i64(mtime);
    if (!mt) return fail("header ks.mtime: " + mt.error().message);
    c.file.mtime_ns = *mt;
    return c;
}

}  // namespace ks::wire
