// libFuzzer target: what the sink does with one untrusted Kafka message before it touches the disk. The input is
// split into headers (names mostly from the wire format, so the fuzzer reaches past "missing header") and a value;
// the value is also parsed as a manifest and planned into output paths with the default layout.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <string>

#include "../../sink/layout.hpp"
#include "../../sink/record_decoder.hpp"
#include "../../sink/safe_path.hpp"
#include "../../sink/transfer_plan.hpp"
#include "wire_format.hpp"

namespace {

constexpr std::array<const char*, 17> kNames = {
    "ks.v",    "ks.type", "ks.transfer", "ks.cluster", "ks.job", "ks.node", "ks.user",  "ks.path",    "ks.file",
    "ks.size", "ks.mode", "ks.mtime",    "ks.offset",  "ks.eol", "ks.part", "ks.parts", "ks.instance"};

const ks::sink::Layout& default_layout() {
    static const ks::sink::Layout layout = *ks::sink::Layout::parse(ks::sink::kDefaultLayout);
    return layout;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    ks::wire::Headers headers;
    const int n = in.ConsumeIntegralInRange(0, 20);
    for (int i = 0; i < n; ++i) {
        std::string name = in.ConsumeBool() ? kNames[in.ConsumeIntegralInRange<std::size_t>(0, kNames.size() - 1)]
                                            : in.ConsumeRandomLengthString(16);
        headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(64));
    }
    const std::string value = in.ConsumeRemainingBytesAsString();

    ks::sink::Limits limits;
    (void)ks::wire::message_type(headers);
    auto id = ks::wire::decode_identity(headers);
    if (id) (void)ks::sink::check_identity(*id);
    if (auto chunk = ks::wire::decode_chunk(headers)) (void)ks::sink::check_chunk(*chunk, value.size(), limits);
    ks::sink::DecodedRecord record;
    if (ks::sink::decode_record_message(value, record)) {
        const auto& m = record.value.meta;
        if (!ks::wire::valid_transfer_id(m.transfer_id)) __builtin_trap();  // it names a staging directory
        (void)ks::sink::check_range(m.file, m.size, m.offset, record.bytes.size(), limits);
    }
    if (auto manifest = ks::wire::parse_manifest(value)) {
        ks::wire::TransferIdentity ident{manifest->job.cluster, manifest->job.job_id,  manifest->job.node,
                                         manifest->job.user,    manifest->transfer_id, manifest->job.instance};
        if (auto plan = ks::sink::plan_transfer(*manifest, ident, "topic", default_layout(), limits)) {
            // Every planned output path must be relative and free of "." and ".." components.
            for (const auto& f : plan->files)
                for (const auto& c : f.target)
                    if (!ks::sink::check_component(c)) __builtin_trap();
        }
    }
    return 0;
}
