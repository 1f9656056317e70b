// kafka_stream.so: the SPANK callbacks. The only file that sees <slurm/spank.h>; all decisions are made by the
// pure, unit-tested functions of the other files in this folder. Every callback catches everything: an exception
// crossing into Slurm would kill sbatch, srun, slurmd or slurmstepd.
// It stays one file, a little above the project's ~450 lines, so that spank.h stays confined to it: its three parts
// (submission, in the job, at job end) are marked by "----" lines, as pyxis keeps one file per SPANK context.
extern "C" {
#include <slurm/spank.h>
}

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.hpp"
#include "helper_command.hpp"
#include "hostlist.hpp"
#include "plugin_config.hpp"
#include "stream_dir.hpp"
#include "tmpdir_record.hpp"
#include "tmpdir_template.hpp"
#include "topic_policy.hpp"

#define KS_EXPORT __attribute__((visibility("default")))

// Slurm finds the plugin by these symbols. SPANK_PLUGIN() would define them `const`, which in C++ means internal
// linkage; plugin_version must equal the running Slurm's (it is checked against major.minor).
extern "C" {
KS_EXPORT extern const char plugin_name[] = "kafka_stream";
KS_EXPORT extern const char plugin_type[] = "spank";
KS_EXPORT extern const unsigned int plugin_version = SLURM_VERSION_NUMBER;
// Not read by Slurm (checked up to 25.x); kept for tools that look for it, and not exported.
extern const unsigned int spank_plugin_version = 1;
}

namespace {

using namespace ks::plugin;

constexpr const char* kLogPrefix = "kafka_stream";
constexpr const char* kTopicEnv = "KAFKA_STREAM_TOPIC";
constexpr std::chrono::seconds kKillGrace{5};
// How Slurm hands the job's --kafka-stream value to the job's environment: SLURM_SPANK_ + _SLURM_SPANK_OPTION_
// + plugin name + option name with '-' as '_'.
constexpr const char* kJobOptionEnv = "SLURM_SPANK__SLURM_SPANK_OPTION_kafka_stream_kafka_stream";
constexpr int kOptTopic = 1;
constexpr int kOptInclude = 2;
constexpr int kOptFormat = 3;

// SPANK option callbacks get no context pointer, so they read the site settings that slurm_spank_init parsed in
// this process from here. Written only by slurm_spank_init, before Slurm processes any option.
struct SiteSettings {
    std::optional<PluginConfig> config;
    std::string error;  // why config is empty
    bool new_job_streams = false;  // sbatch/salloc/srun creating a job was given an accepted --kafka-stream
};
SiteSettings g_site;

int option_topic_cb(int val, const char* optarg, int remote);
int option_include_cb(int val, const char* optarg, int remote);
int option_format_cb(int val, const char* optarg, int remote);

// struct spank_option has non-const char* fields; these arrays give them writable storage.
char kTopicName[] = "kafka-stream";
char kTopicArg[] = "TOPIC";
char kTopicUsage[] =
    "At job end, send the job's $TMPDIR on every node to the Kafka topic TOPIC (KAFKA_STREAM_TOPIC in the job).";
char kIncludeName[] = "kafka-stream-include";
char kIncludeArg[] = "GLOB[,GLOB...]";
char kIncludeUsage[] = "With --kafka-stream: send only the files matching one of these globs (default: all).";
spank_option g_topic_option{kTopicName, kTopicArg, kTopicUsage, 1, kOptTopic, option_topic_cb};
char kFormatName[] = "kafka-stream-format";
char kFormatArg[] = "records|files";
char kFormatUsage[] =
    "With --kafka-stream: \"records\" sends each line of a text file as a JSON message {\"timestamp\",\"data\"} "
    "(other files as chunks); \"files\" (default) sends files as checksummed chunks.";
spank_option g_include_option{kIncludeName, kIncludeArg, kIncludeUsage, 1, kOptInclude, option_include_cb};
spank_option g_format_option{kFormatName, kFormatArg, kFormatUsage, 1, kOptFormat, option_format_cb};

std::vector<std::string_view> args_of(int ac, char** av) {
    std::vector<std::string_view> args;
    for (int i = 0; i < ac; ++i) args.emplace_back(av[i]);
    return args;
}

// Runs one callback body; anything thrown becomes a logged error and `on_exception`.
template <class F>
int guarded(const char* callback, int on_exception, F&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        slurm_error("%s: %s: unexpected error: %s", kLogPrefix, callback, e.what());
    } catch (...) {
        slurm_error("%s: %s: unexpected error", kLogPrefix, callback);
    }
    return on_exception;
}

std::optional<std::string> user_name(uid_t uid) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
    return std::string(found->pw_name);
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// spank_getenv reads the job's environment (remote context); its values are the user's and are not trusted.
std::string job_env(spank_t sp, const char* name) {
    std::vector<char> buf(4097);
    if (spank_getenv(sp, name, buf.data(), static_cast<int>(buf.size())) != ESPANK_SUCCESS) return "";
    return buf.data();
}

std::optional<std::string> option_value(spank_t sp, spank_option* opt) {
    char* value = nullptr;
    if (spank_option_getopt(sp, opt, &value) != ESPANK_SUCCESS || value == nullptr) return std::nullopt;
    return std::string(value);
}

template <class T>
std::optional<T> job_item(spank_t sp, spank_item_t item) {
    T value{};
    if (spank_get_item(sp, item, &value) != ESPANK_SUCCESS) return std::nullopt;
    return value;
}

// The Slurm node name (several nodes can share one host, so gethostname() would be wrong). In the epilog it is in
// slurmstepd's environment. In a step, the task environment's SLURMD_NODENAME may still be the batch node's
// (inherited by an srun inside the batch script) when this runs: the step's node list at this node's index is right.
std::string node_name(spank_t sp) {
    if (spank_remote(sp)) {
        std::string step_nodes = job_env(sp, "SLURM_STEP_NODELIST");
        auto index = job_item<uint32_t>(sp, S_JOB_NODEID);
        if (!step_nodes.empty() && index) {
            auto names = expand_hostlist(step_nodes);
            if (names && *index < names->size()) return (*names)[*index];
        }
    }
    std::string n = env_or_empty("SLURMD_NODENAME");
    return n.empty() && spank_remote(sp) ? job_env(sp, "SLURMD_NODENAME") : n;
}

// ---- submission side (sbatch, salloc, srun) --------------------------------------------------------------------

int option_topic_cb(int, const char* optarg, int remote) {
    return guarded("--kafka-stream", -1, [&] {
        if (remote) return 0;  // checked at submission already; the epilog checks the name again
        if (!g_site.config) {
            slurm_error(
                "%s: --kafka-stream is not available: the plugin is misconfigured (%s); please tell your "
                "administrators",
                kLogPrefix, g_site.error.c_str());
            return -1;
        }
        auto user = user_name(getuid());
        if (!user) {
            slurm_error("%s: cannot find the user name of uid %u", kLogPrefix, static_cast<unsigned>(getuid()));
            return -1;
        }
        const std::string topic = optarg ? optarg : "";
        auto ok = check_topic(topic, g_site.config->topics, *user);
        // srun inside an allocation (SLURM_JOB_ID set): only the job's own option leads to a transfer at its end.
        std::string job_id = env_or_empty("SLURM_JOB_ID");
        if (ok && spank_context() == S_CTX_LOCAL && !job_id.empty())
            ok = check_step_topic(topic, job_id, env_or_empty(kJobOptionEnv));
        if (!ok) {
            slurm_error("%s: --kafka-stream: %s", kLogPrefix, ok.error().message.c_str());
            return -1;
        }
        if (job_id.empty()) g_site.new_job_streams = true;
        return 0;
    });
}

int option_include_cb(int, const char* optarg, int remote) {
    return guarded("--kafka-stream-include", -1, [&] {
        if (remote) return 0;
        auto globs = parse_include_list(optarg ? optarg : "");
        if (!globs) {
            slurm_error("%s: %s", kLogPrefix, globs.error().message.c_str());
            return -1;
        }
        return 0;
    });
}

int option_format_cb(int, const char* optarg, int remote) {
    return guarded("--kafka-stream-format", -1, [&] {
        if (remote) return 0;
        if (auto ok = check_stream_format(optarg ? optarg : ""); !ok) {
            slurm_error("%s: %s", kLogPrefix, ok.error().message.c_str());
            return -1;
        }
        return 0;
    });
}

// ---- in the job (slurmstepd, as root, before the tasks start) -------------------------------------------------

// The job's topic in a step. The batch step and an `srun --kafka-stream` see the option itself; an srun inside a
// batch job does not, but inherits Slurm's record of the job's options in its environment.
std::optional<std::string> streaming_topic_in_step(spank_t sp) {
    if (auto topic = option_value(sp, &g_topic_option)) return topic;
    std::string inherited = job_env(sp, kJobOptionEnv);
    if (inherited.empty()) return std::nullopt;
    return inherited;
}

// create_tmpdir=yes: make the per-job directory on this node and give it to the job as $TMPDIR.
int provide_job_tmpdir(spank_t sp, const PluginConfig& config) {
    auto job_id = job_item<uint32_t>(sp, S_JOB_ID);
    auto uid = job_item<uid_t>(sp, S_JOB_UID);
    auto gid = job_item<gid_t>(sp, S_JOB_GID);
    if (!job_id || !uid || !gid) {
        slurm_error("%s: cannot get the job id/uid/gid; no TMPDIR created", kLogPrefix);
        return -1;
    }
    std::string job = std::to_string(*job_id);
    auto user = user_name(*uid);
    TemplateValues values{job, user.value_or(""), std::to_string(*uid), node_name(sp)};
    auto dir = expand_tmpdir_template(config.tmpdir, values);
    if (!dir) {
        slurm_error("%s: job %s: %s", kLogPrefix, job.c_str(), dir.error().message.c_str());
        return -1;
    }
    auto created = create_job_tmpdir(*dir, *uid, *gid);
    if (!created) {
        slurm_error("%s: job %s: %s", kLogPrefix, job.c_str(), created.error().message.c_str());
        return -1;
    }
    if (spank_setenv(sp, "TMPDIR", dir->c_str(), 1) != ESPANK_SUCCESS) {
        slurm_error("%s: job %s: cannot set TMPDIR=%s for the job", kLogPrefix, job.c_str(), dir->c_str());
        return -1;
    }
    return 0;
}

// tmpdir=job: remember the $TMPDIR the job's tasks really have, for the epilog (which cannot see it).
int record_tmpdir(spank_t sp, const PluginConfig& config) {
    std::string tmpdir = job_env(sp, "TMPDIR");
    auto job_id = job_item<uint32_t>(sp, S_JOB_ID);
    std::string node = node_name(sp);
    if (!job_id) return 0;
    std::string job = std::to_string(*job_id);
    if (tmpdir.empty()) {
        slurm_info("%s: job %s: the job has no TMPDIR on %s; nothing will be streamed from here", kLogPrefix,
                   job.c_str(), node.c_str());
        return 0;
    }
    auto ok = record_job_tmpdir(config.state_dir, job, node, tmpdir);
    if (!ok) {
        slurm_error("%s: job %s: %s", kLogPrefix, job.c_str(), ok.error().message.c_str());
        return -1;
    }
    return 0;
}

// ---- at job end (slurmstepd spank epilog, as root) -------------------------------------------------------------

std::optional<EpilogJob> epilog_job(spank_t sp) {
    auto job_id = job_item<uint32_t>(sp, S_JOB_ID);
    auto uid = job_item<uid_t>(sp, S_JOB_UID);
    auto gid = job_item<gid_t>(sp, S_JOB_GID);
    if (!job_id || !uid || !gid) return std::nullopt;
    EpilogJob job;
    job.job_id = std::to_string(*job_id);
    job.uid = *uid;
    job.gid = *gid;
    job.user = env_or_empty("SLURM_JOB_USER");
    if (job.user.empty()) job.user = user_name(*uid).value_or("");
    job.node = node_name(sp);
    job.cluster = env_or_empty("SLURM_CLUSTER_NAME");
    job.nodes = env_or_empty("SLURM_JOB_NUM_NODES");
    if (auto code = ks::push::exit_code_from_wait_status(env_or_empty("SLURM_JOB_EXIT_CODE")))
        job.exit_code = std::to_string(*code);
    // Set at submission (slurm_spank_init_post_opt); the submitting user's value, so checked before use.
    std::string instance = env_or_empty(kInstanceEpilogEnv);
    if (ks::push::valid_job_instance(instance)) job.instance = instance;
    return job;
}

// Where this node's outputs of the job are, or an error / nullopt (nothing to stream here).
ks::Result<std::optional<std::string>> epilog_dir(const PluginConfig& config, const EpilogJob& job) {
    if (config.tmpdir_from_job()) {
        auto recorded = read_recorded_tmpdir(config.state_dir, job.job_id, job.node);
        (void)remove_recorded_tmpdir(config.state_dir, job.job_id, job.node);
        return recorded;
    }
    auto dir = expand_tmpdir_template(config.tmpdir, {job.job_id, job.user, std::to_string(job.uid), job.node});
    if (!dir) return std::unexpected(dir.error());
    return std::optional<std::string>(*dir);
}

// The job's --kafka-stream-include globs (none: every file).
ks::Result<std::vector<std::string>> epilog_includes(spank_t sp) {
    auto globs = option_value(sp, &g_include_option);
    if (!globs) return std::vector<std::string>{};
    return parse_include_list(*globs);
}

// The directory to stream from this node, checked (and created where the site asks for it); nullopt, logged, when
// there is nothing to stream here.
ks::Result<std::optional<std::string>> dir_to_stream(const PluginConfig& config, const EpilogJob& job) {
    TRY_ASSIGN(auto dir, epilog_dir(config, job));
    if (!dir) {
        slurm_info("%s: job %s: no TMPDIR was recorded on node %s; nothing to stream", kLogPrefix, job.job_id.c_str(),
                   job.node.c_str());
        return std::nullopt;
    }
    auto state = check_stream_dir(*dir, job.uid, config.allow_shared);
    if (state && *state == DirState::missing && config.create_tmpdir) {
        // A node on which no step ran still reports (an empty transfer), so the sink can complete the job.
        auto created = create_job_tmpdir(*dir, job.uid, job.gid);
        state = created ? check_stream_dir(*dir, job.uid, config.allow_shared)
                        : ks::Result<DirState>(std::unexpected(created.error()));
    }
    if (!state) return std::unexpected(state.error());
    if (*state == DirState::missing) {
        slurm_info("%s: job %s: %s does not exist on node %s; nothing to stream", kLogPrefix, job.job_id.c_str(),
                   dir->c_str(), job.node.c_str());
        return std::nullopt;
    }
    return dir;
}

// The job's --kafka-stream-format ("": the helper's default).
ks::Result<std::string> epilog_format(spank_t sp) {
    auto value = option_value(sp, &g_format_option);
    if (!value) return std::string();
    return check_stream_format(*value);  // checked at submission; the value came from the user
}

// Runs the helper for at most the configured timeout, its lines going to Slurm's log, and judges its exit.
int run_helper(const PluginConfig& config, const EpilogJob& job, const std::string& topic,
               const std::vector<std::string>& includes, const std::string& dir, const std::string& format,
               int failure) {
    const char* id = job.job_id.c_str();
    auto cmd = build_helper_command(config, job, topic, includes, dir, format);
    auto child = ChildProcess::spawn(cmd.argv, cmd.env);
    if (!child) {
        slurm_error("%s: job %s: %s; nothing streamed", kLogPrefix, id, child.error().message.c_str());
        return failure;
    }
    slurm_info("%s: job %s: streaming %s to topic %s (helper pid %d)", kLogPrefix, id, dir.c_str(), topic.c_str(),
               static_cast<int>(child->pid()));
    auto status = child->wait(std::chrono::seconds(config.timeout_seconds), kKillGrace, [&](std::string_view line) {
        slurm_info("%s: job %s: %.*s", kLogPrefix, id, static_cast<int>(line.size()), line.data());
    });
    if (!status) {
        slurm_error("%s: job %s: %s", kLogPrefix, id, status.error().message.c_str());
        return failure;
    }
    auto outcome = judge_helper_exit(*status, dir);
    if (outcome.delivered) {
        slurm_info("%s: job %s: %s", kLogPrefix, id, outcome.message.c_str());
        return 0;
    }
    slurm_error("%s: job %s: %s", kLogPrefix, id, outcome.message.c_str());
    return failure;
}

// What the job asked for, checked again; where its outputs are on this node; then the helper sends them.
int run_epilog(spank_t sp, int ac, char** av) {
    auto topic = option_value(sp, &g_topic_option);
    if (!topic) return 0;  // the job did not ask for streaming: nothing to do, nothing logged

    auto job = epilog_job(sp);
    if (!job) {
        slurm_error("%s: cannot get the job's id/uid/gid in the epilog; nothing streamed", kLogPrefix);
        return -1;
    }
    const char* id = job->job_id.c_str();
    auto config = parse_plugin_args(args_of(ac, av));
    if (!config) {
        slurm_error("%s: job %s: plugstack.conf: %s; nothing streamed", kLogPrefix, id, config.error().message.c_str());
        return -1;
    }
    const int failure = config->fail_on_error ? -1 : 0;
    auto nothing_streamed = [&](const ks::Error& e) {
        slurm_error("%s: job %s: %s; nothing streamed", kLogPrefix, id, e.message.c_str());
        return failure;
    };
    // The topic was checked at submission, but the value came from the user (set around sbatch's own check, e.g.
    // through the job's SPANK environment): the site's whole policy is applied again before anything is sent.
    if (auto ok = check_topic(*topic, config->topics, job->user); !ok) return nothing_streamed(ok.error());
    auto includes = epilog_includes(sp);
    if (!includes) return nothing_streamed(includes.error());
    auto dir = dir_to_stream(*config, *job);
    if (!dir) return nothing_streamed(dir.error());
    if (!*dir) return 0;  // nothing to stream on this node (logged)
    auto format = epilog_format(sp);
    if (!format) return nothing_streamed(format.error());
    return run_helper(*config, *job, *topic, *includes, **dir, *format, failure);
}

}  // namespace

extern "C" {

KS_EXPORT int slurm_spank_init(spank_t sp, int ac, char** av) {
    return guarded("slurm_spank_init", -1, [&] {
        auto config = parse_plugin_args(args_of(ac, av));
        if (config) {
            g_site.config = std::move(*config);
            g_site.error.clear();
        } else {
            g_site.config.reset();
            g_site.error = config.error().message;
        }
        // The options are registered even when the settings are broken, so that --kafka-stream is refused with the
        // reason rather than reported as an unknown option.
        if (spank_option_register(sp, &g_topic_option) != ESPANK_SUCCESS ||
            spank_option_register(sp, &g_include_option) != ESPANK_SUCCESS ||
            spank_option_register(sp, &g_format_option) != ESPANK_SUCCESS) {
            slurm_error("%s: cannot register the --kafka-stream options", kLogPrefix);
            return -1;
        }
        if (!g_site.config) {
            slurm_error("%s: plugstack.conf: %s; the plugin is disabled", kLogPrefix, g_site.error.c_str());
            return -1;
        }
        return 0;
    });
}

// Runs as root in each task's process just before it drops privileges (remote context), where options can be read
// (spank_option_getopt does not work in slurm_spank_init_post_opt) and the task's environment can be changed.
// At submission of a job that streams: a random instance value, the same on every node of the job, that tells this
// job from an earlier one with the same id (Slurm's ids restart after a state loss and wrap at MaxJobId). It reaches
// the epilog as SPANK_KAFKA_STREAM_INSTANCE and becomes part of the transfer id.
KS_EXPORT int slurm_spank_init_post_opt(spank_t sp, int, char**) {
    return guarded("slurm_spank_init_post_opt", 0, [&] {
        if (spank_remote(sp) || !g_site.new_job_streams) return 0;
        auto instance = new_job_instance();
        if (!instance || spank_job_control_setenv(sp, kInstanceVar, instance->c_str(), 1) != ESPANK_SUCCESS)
            slurm_info("%s: could not set a job instance; a later job with the same id would be taken for this one",
                       kLogPrefix);
        return 0;
    });
}

KS_EXPORT int slurm_spank_task_init_privileged(spank_t sp, int, char**) {
    return guarded("slurm_spank_task_init_privileged", -1, [&] {
        if (!g_site.config) return 0;
        auto topic = streaming_topic_in_step(sp);
        if (!topic) return 0;  // the job did not ask for streaming: nothing changes
        // The job can see where its outputs go.
        if (spank_setenv(sp, kTopicEnv, topic->c_str(), 1) != ESPANK_SUCCESS)
            slurm_error("%s: cannot set %s for the job", kLogPrefix, kTopicEnv);
        if (g_site.config->create_tmpdir) return provide_job_tmpdir(sp, *g_site.config);
        if (g_site.config->tmpdir_from_job()) return record_tmpdir(sp, *g_site.config);
        return 0;
    });
}

KS_EXPORT int slurm_spank_job_epilog(spank_t sp, int ac, char** av) {
    // The epilog never fails because of an exception: by default a node is not drained for a transfer problem.
    return guarded("slurm_spank_job_epilog", 0, [&] { return run_epilog(sp, ac, av); });
}

}  // extern "C"
