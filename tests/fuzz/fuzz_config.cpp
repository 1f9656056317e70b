// libFuzzer target: the configuration readers of both tools (site files are trusted more than messages, but a typo
// must give an error, never a crash): key = value text, -X overrides, and their resolution into settings.
#include <string>
#include <string_view>
#include <vector>

#include "../../sink/sink_options.hpp"
#include "../../helper/push_options.hpp"
#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)ks::parse_override(text);
    auto entries = ks::parse_config(text, "fuzz.conf");
    if (!entries) return 0;
    ks::push::CommandLine cl;
    if (auto s = ks::push::resolve_settings(*entries, cl)) {
        (void)ks::push::records_line_limit(*s);
        (void)ks::push::check_chunk_fits(s->chunk_bytes, s->message_max_bytes);
    }
    ks::sink::SinkArgs args;
    (void)ks::sink::resolve_sink_config(args, *entries);
    return 0;
}
