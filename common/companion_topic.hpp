// Records mode keeps the user's topic for records only, so a plain consumer reads nothing else: a records-mode
// transfer's open message, chunks (files that are not text) and manifest go to the companion topic "<topic>.ks-meta",
// which the sink reads together with the topic (ARCHITECTURE.md, "Records mode"). The suffix is reserved.
// Header-only: the SPANK plugin (which links nothing of common/) refuses the suffix at submission too.
#pragma once
#include <string>
#include <string_view>

namespace ks::wire {

inline constexpr std::string_view kCompanionSuffix = ".ks-meta";

// The name of records mode: kafka-stream-push's --format value and a manifest entry's "format" (FileEntry::format)
// of a file sent as one record message per line.
inline constexpr std::string_view kFormatRecords = "records";

inline std::string companion_topic(std::string_view topic) {
    return std::string(topic) + std::string(kCompanionSuffix);
}

inline bool is_companion_topic(std::string_view topic) {
    return topic.size() > kCompanionSuffix.size() && topic.ends_with(kCompanionSuffix);
}

// The user's topic of a companion topic; any other topic is its own.
inline std::string_view user_topic_of(std::string_view topic) {
    return is_companion_topic(topic) ? topic.substr(0, topic.size() - kCompanionSuffix.size()) : topic;
}

}  // namespace ks::wire
