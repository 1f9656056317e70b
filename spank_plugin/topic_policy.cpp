#include "topic_policy.hpp"

#include <regex.h>

#include "companion_topic.hpp"

namespace ks::plugin {
namespace {

constexpr std::size_t kMaxTopicLength = 249;

bool is_topic_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

// Error messages quote user input; keep them printable and short.
std::string quoted(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 300)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > 300) out += "...";
    return out + "'";
}

// POSIX ERE from libc: no exceptions, nothing extra linked into the plugin. Anchored so the whole text must match.
Result<bool> full_match(const std::string& pattern, const std::string& text) {
    regex_t re;
    int rc = ::regcomp(&re, ("^(" + pattern + ")$").c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        ::regerror(rc, &re, msg, sizeof msg);
        return fail(msg);
    }
    bool matched = ::regexec(&re, text.c_str(), 0, nullptr, 0) == 0;
    ::regfree(&re);
    return matched;
}

}  // namespace

Result<void> check_kafka_topic_name(std::string_view topic) {
    if (topic.empty()) return fail("the topic name is empty");
    if (topic.size() > kMaxTopicLength)
        return fail("topic " + quoted(topic) + " is longer than " + std::to_string(kMaxTopicLength) + " characters");
    if (topic == "." || topic == "..") return fail("topic " + quoted(topic) + " is not allowed by Kafka");
    for (char c : topic)
        if (!is_topic_char(c))
            return fail("topic " + quoted(topic) + " has a character Kafka does not allow (only A-Z a-z 0-9 . _ -)");
    if (ks::wire::is_companion_topic(topic))
        return fail("topic " + quoted(topic) + ": names ending in " + std::string(ks::wire::kCompanionSuffix) +
                    " are reserved (records mode's companion topics)");
    return {};
}

std::string regex_escape(std::string_view text) {
    static constexpr std::string_view kSpecial = "\\^$.|?*+()[]{}";
    std::string out;
    for (char c : text) {
        if (kSpecial.find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

Result<std::string> expand_topic_policy(std::string_view policy, std::string_view user) {
    std::string out;
    for (std::size_t i = 0; i < policy.size(); ++i) {
        if (policy[i] != '%') {
            out += policy[i];
            continue;
        }
        if (i + 1 == policy.size()) return fail("topics=" + std::string(policy) + ": ends with a lone %");
        char spec = policy[++i];
        if (spec == 'u') out += regex_escape(user);
        else if (spec == '%') out += '%';
        else return fail("topics=" + std::string(policy) + ": unknown %" + spec + " (only %u and %% are defined)");
    }
    return out;
}

Result<void> check_topic(std::string_view topic, std::string_view policy, std::string_view user) {
    if (auto ok = check_kafka_topic_name(topic); !ok) return ok;
    if (policy.empty()) return {};
    auto pattern = expand_topic_policy(policy, user);
    if (!pattern) return std::unexpected(pattern.error());
    auto matches = full_match(*pattern, std::string(topic));
    if (!matches)
        return fail("topics=" + std::string(policy) + " is not a valid regular expression: " + matches.error().message);
    if (!*matches)
        return fail("topic " + quoted(topic) + " is not allowed on this cluster (site policy: " + std::string(policy) +
                    ", with %u = " + std::string(user) + ")");
    return {};
}

Result<void> check_step_topic(std::string_view topic, std::string_view job_id, std::string_view job_topic) {
    if (job_topic == topic) return {};
    if (job_topic.empty())
        return fail("this srun runs inside job " + std::string(job_id) +
                    ", which was not submitted with --kafka-stream; outputs are sent when the job ends, so give "
                    "--kafka-stream to sbatch or salloc");
    return fail("this srun runs inside job " + std::string(job_id) + ", which streams to topic " + quoted(job_topic) +
                "; a step cannot choose another topic");
}

Result<std::vector<std::string>> parse_include_list(std::string_view list) {
    std::vector<std::string> globs;
    std::size_t start = 0;
    while (true) {
        auto comma = list.find(',', start);
        auto item = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) return fail("--kafka-stream-include=" + std::string(list) + ": empty pattern");
        globs.emplace_back(item);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return globs;
}

}  // namespace ks::plugin
