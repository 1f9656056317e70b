#include "job_identity.hpp"

#include "push_contract.hpp"
#include "text_codec.hpp"
#include "wire_headers.hpp"

namespace ks::push {
namespace {

std::optional<std::string> non_empty(const EnvLookup& env, const char* name) {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

}  // namespace

Result<wire::JobInfo> resolve_job(const CommandLine& cl, const Settings& s, const EnvLookup& env,
                                  const JobDefaults& d) {
    wire::JobInfo j;
    j.cluster = cl.cluster  ? *cl.cluster
                : s.cluster ? *s.cluster
                            : non_empty(env, "SLURM_CLUSTER_NAME").value_or("default");
    j.job_id = cl.job_id ? *cl.job_id : non_empty(env, "SLURM_JOB_ID").value_or(d.adhoc_job_id);
    j.node = cl.node ? *cl.node : non_empty(env, "SLURMD_NODENAME").value_or(d.hostname);
    j.user = cl.user ? *cl.user : d.user_name;
    j.uid = d.uid;
    j.gid = d.gid;
    // They become Kafka headers, the "cluster/job/node" key and, at the sink, directory names.
    TRY(wire::check_identity_names(j.cluster, j.job_id, j.node, j.user));
    if (cl.nodes) {
        j.nodes = *cl.nodes;
    } else if (auto n = non_empty(env, "SLURM_JOB_NUM_NODES")) {
        auto v = text::parse_u64(*n);
        if (!v || *v == 0 || *v > 1'000'000) return fail("SLURM_JOB_NUM_NODES=\"" + *n + "\" is not a node count");
        j.nodes = static_cast<std::uint32_t>(*v);
    }
    j.exit_code = cl.exit_code ? cl.exit_code : exit_code_from_slurm(env);
    if (cl.job_instance) {
        if (!valid_job_instance(*cl.job_instance))
            return fail("--job-instance: expected " + std::string(kJobInstanceRule) + ", got \"" + *cl.job_instance +
                        "\"");
        j.instance = *cl.job_instance;
    }
    return j;
}

wire::TransferIdentity identity_of(const wire::JobInfo& job) {
    return wire::identity_of(job, wire::make_transfer_id(job.cluster, job.job_id, job.node, job.instance));
}

std::optional<std::int32_t> exit_code_from_slurm(const EnvLookup& env) {
    if (auto two = non_empty(env, "SLURM_JOB_EXIT_CODE2")) {
        auto colon = two->find(':');
        if (colon != std::string::npos) {
            auto code = text::parse_u64(two->substr(0, colon));
            auto sig = text::parse_u64(two->substr(colon + 1));
            if (code && sig && *code < 256 && *sig < 128) return static_cast<std::int32_t>(*sig ? 128 + *sig : *code);
        }
    }
    if (auto raw = non_empty(env, "SLURM_JOB_EXIT_CODE")) return exit_code_from_wait_status(*raw);
    return std::nullopt;
}

}  // namespace ks::push
