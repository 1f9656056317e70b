#include "transfer_plan.hpp"

#include <set>

#include "safe_path.hpp"

namespace ks::sink {

LayoutVars layout_vars(const wire::JobInfo& job, const std::string& transfer_id, const std::string& topic) {
    // A records-mode transfer's manifest comes on the companion topic: {topic} is the user's.
    return LayoutVars{job.user,
                      std::to_string(job.uid),
                      job.job_id,
                      job.node,
                      job.cluster,
                      transfer_id,
                      std::string(wire::user_topic_of(topic))};
}

Result<void> check_identity(const wire::TransferIdentity& id) {
    if (wire::make_transfer_id(id.cluster, id.job_id, id.node, id.instance) != id.transfer_id)
        return fail("transfer id does not match cluster/job/node/instance");
    // The names become directories (layout.hpp): never ".staging", "..", a separator or an overlong name.
    return wire::check_identity_names(id.cluster, id.job_id, id.node, id.user);
}

Result<void> check_range(std::uint64_t index, std::uint64_t size, std::uint64_t offset, std::size_t payload_bytes,
                         const Limits& limits) {
    if (size > limits.max_file_bytes)
        return fail("declared file size " + std::to_string(size) + " above the limit of " +
                    std::to_string(limits.max_file_bytes) + " bytes (stream.max.file.bytes)");
    if (index >= limits.max_files)
        return fail("file index " + std::to_string(index) + " above the limit (stream.max.files)");
    if (offset > size || payload_bytes > size - offset)
        return fail("bytes [" + std::to_string(offset) + ", " + std::to_string(offset + payload_bytes) +
                    ") past the declared file size " + std::to_string(size));
    return {};
}

Result<void> check_chunk(const wire::ChunkHeader& chunk, std::size_t payload_bytes, const Limits& limits) {
    if (auto ok = split_relative_path(chunk.file.path); !ok) return fail("chunk: " + ok.error().message);
    if (auto ok = check_range(chunk.file.index, chunk.file.size, chunk.offset, payload_bytes, limits); !ok)
        return fail("chunk: " + ok.error().message);
    return {};
}

Result<TransferPlan> plan_transfer(const wire::Manifest& m, const wire::TransferIdentity& id, const std::string& topic,
                                   const Layout& layout, const Limits& limits) {
    if (m.transfer_id != id.transfer_id) return fail("manifest: transfer_id differs from the message header");
    if (m.job.cluster != id.cluster || m.job.job_id != id.job_id || m.job.node != id.node || m.job.user != id.user ||
        m.job.instance != id.instance)
        return fail("manifest: job identity differs from the message headers");
    if (m.files.size() > limits.max_files) return fail("manifest: more files than stream.max.files");
    TransferPlan plan;
    plan.job = m.job;
    plan.vars = layout_vars(m.job, m.transfer_id, topic);
    auto job_dir = layout.job_dir(plan.vars);
    if (!job_dir) return fail("manifest: " + job_dir.error().message);
    plan.job_dir = std::move(*job_dir);
    plan.node_manifest_name = m.job.node + ".json";
    if (auto ok = check_component(plan.node_manifest_name); !ok)
        return fail("manifest: node name: " + ok.error().message);
    std::set<std::vector<std::string>> targets;
    std::set<std::vector<std::string>> dirs;
    for (const auto& f : m.files) {
        if (f.meta.size > limits.max_file_bytes)
            return fail("manifest: file size " + std::to_string(f.meta.size) + " above stream.max.file.bytes");
        if (f.meta.index >= limits.max_files) return fail("manifest: file index above stream.max.files");
        auto target = layout.file_path(plan.vars, f.meta.path);
        if (!target) return fail("manifest: " + target.error().message);
        if (!targets.insert(*target).second)
            return fail("manifest: two files named \"" + printable(f.meta.path) + "\"");
        for (std::size_t n = 1; n < target->size(); ++n)
            dirs.insert(std::vector<std::string>(target->begin(), target->begin() + static_cast<std::ptrdiff_t>(n)));
        plan.files.push_back(PlannedFile{f.meta.index, f.meta.size, f.meta.mode, f.meta.mtime_ns, f.sha256, f.meta.path,
                                         std::move(*target)});
        plan.total_bytes += f.meta.size;
    }
    for (const auto& t : targets)
        if (dirs.count(t)) return fail("manifest: a file is also a directory of another file");
    return plan;
}

}  // namespace ks::sink
