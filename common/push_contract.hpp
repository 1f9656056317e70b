// What the SPANK plugin and kafka-stream-push must agree on: the push's exit codes, the job instance, the job's exit
// code from Slurm's wait status, the --format names. Header-only: the plugin includes it but links no librdkafka and
// none of libkscommon's objects.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "companion_topic.hpp"

namespace ks::push {

// kafka-stream-push's exit codes (documented in --help and kafka-stream-push(1)); the plugin judges its run by them.
namespace exit_code {
inline constexpr int delivered = 0;  // every message confirmed (or, with --drain-spool, every entry drained)
inline constexpr int internal = 1;   // a bug or an unexpected exception
inline constexpr int usage = 2;      // bad arguments or configuration; nothing was read or sent
inline constexpr int spooled = 3;    // not (fully) delivered, but saved in the spool: retry with --drain-spool
inline constexpr int lost = 4;       // not delivered and NOT spooled (or unsafe to continue): data was not saved
}  // namespace exit_code

// The job instance the plugin draws at submission and passes as --job-instance; it also travels on the wire
// (ks.instance, the manifest), where the sink applies the same rule: 1-64 characters of [A-Za-z0-9._-].
inline constexpr std::string_view kJobInstanceRule = "1-64 characters of A-Z a-z 0-9 . _ -";
constexpr bool valid_job_instance(std::string_view value) {
    if (value.empty() || value.size() > 64) return false;
    for (char c : value)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    return true;
}

// Slurm's SLURM_JOB_EXIT_CODE is a wait(2) status (256 = exit 1): the job's exit code, 128 + signal if a signal
// killed it (as a shell reports it); nullopt if `raw` is not a decimal wait status (0-65535).
inline std::optional<int> exit_code_from_wait_status(std::string_view raw) {
    std::uint64_t status = 0;
    auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), status);
    if (raw.empty() || ec != std::errc() || end != raw.data() + raw.size() || status > 0xffff) return std::nullopt;
    if ((status & 0x7f) == 0) return static_cast<int>((status >> 8) & 0xff);
    return static_cast<int>(128 + (status & 0x7f));
}

// --format's values: every file as checksummed chunks, or each text file as one record message per line
// (wire::kFormatRecords, the name the manifest gives such a file).
inline constexpr std::string_view kFormatFiles = "files";
constexpr bool valid_format_name(std::string_view value) {
    return value == kFormatFiles || value == wire::kFormatRecords;
}

}  // namespace ks::push
