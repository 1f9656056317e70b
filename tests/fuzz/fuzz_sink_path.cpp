// libFuzzer target: the sink's path handling. A layout template and a relative path from the input; whatever is
// accepted must render to components that are each a safe single name (no '/', no "." or "..", no control bytes).
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "../../sink/layout.hpp"
#include "../../sink/safe_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const std::string tmpl =
        in.ConsumeBool() ? std::string(ks::sink::kDefaultLayout) : in.ConsumeRandomLengthString(128);
    ks::sink::LayoutVars vars;
    for (std::string* v : {&vars.user, &vars.uid, &vars.job, &vars.node, &vars.cluster, &vars.transfer, &vars.topic})
        *v = in.ConsumeRandomLengthString(32);
    const std::string path = in.ConsumeRemainingBytesAsString();

    if (auto parts = ks::sink::split_relative_path(path))
        for (const auto& c : *parts)
            if (!ks::sink::check_component(c)) __builtin_trap();
    auto layout = ks::sink::Layout::parse(tmpl);
    if (!layout) return 0;
    for (auto r : {layout->file_path(vars, path), layout->job_dir(vars)}) {
        if (!r) continue;
        for (const auto& c : *r)
            if (!ks::sink::check_component(c)) __builtin_trap();
    }
    return 0;
}
