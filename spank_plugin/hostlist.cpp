#include "hostlist.hpp"

#include <charconv>

namespace ks::plugin {
namespace {

// "1-3,07" -> 1 2 3 07.
Result<std::vector<std::string>> expand_ranges(std::string_view ranges, std::size_t limit) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= ranges.size()) {
        auto comma = ranges.find(',', start);
        auto item = ranges.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        auto dash = item.find('-');
        auto lo_text = item.substr(0, dash);
        auto hi_text = dash == std::string_view::npos ? lo_text : item.substr(dash + 1);
        unsigned long lo = 0, hi = 0;
        auto r1 = std::from_chars(lo_text.data(), lo_text.data() + lo_text.size(), lo);
        auto r2 = std::from_chars(hi_text.data(), hi_text.data() + hi_text.size(), hi);
        if (lo_text.empty() || hi_text.empty() || r1.ec != std::errc() || r2.ec != std::errc() ||
            r1.ptr != lo_text.data() + lo_text.size() || r2.ptr != hi_text.data() + hi_text.size() || hi < lo)
            return fail("bad range '" + std::string(item) + "'");
        if (hi - lo >= limit || out.size() + (hi - lo) >= limit) return fail("too many hosts");
        for (unsigned long v = lo; v <= hi; ++v) {
            std::string digits = std::to_string(v);
            if (digits.size() < lo_text.size()) digits.insert(0, lo_text.size() - digits.size(), '0');
            out.push_back(std::move(digits));
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

// One host expression without top-level commas: literal parts and [ranges] groups, expanded as a product.
Result<void> expand_one(std::string_view expr, std::vector<std::string>& out, std::size_t limit) {
    std::vector<std::string> names = {""};
    std::size_t i = 0;
    while (i < expr.size()) {
        if (expr[i] == '[') {
            auto close = expr.find(']', i);
            if (close == std::string_view::npos) return fail("unbalanced '['");
            auto values = expand_ranges(expr.substr(i + 1, close - i - 1), limit);
            if (!values) return std::unexpected(values.error());
            if (names.size() * values->size() > limit) return fail("too many hosts");
            std::vector<std::string> next;
            for (const auto& n : names)
                for (const auto& v : *values) next.push_back(n + v);
            names = std::move(next);
            i = close + 1;
        } else if (expr[i] == ']') {
            return fail("unbalanced ']'");
        } else {
            for (auto& n : names) n += expr[i];
            ++i;
        }
    }
    if (out.size() + names.size() > limit) return fail("too many hosts");
    for (auto& n : names) out.push_back(std::move(n));
    return {};
}

}  // namespace

Result<std::vector<std::string>> expand_hostlist(std::string_view list, std::size_t limit) {
    std::vector<std::string> out;
    std::size_t start = 0;
    int depth = 0;
    for (std::size_t i = 0; i <= list.size(); ++i) {
        if (i < list.size() && list[i] == '[') ++depth;
        if (i < list.size() && list[i] == ']') --depth;
        if (i < list.size() && (list[i] != ',' || depth > 0)) continue;
        auto expr = list.substr(start, i - start);
        if (expr.empty()) return fail("host list '" + std::string(list) + "': empty entry");
        if (auto ok = expand_one(expr, out, limit); !ok)
            return fail("host list '" + std::string(list) + "': " + ok.error().message);
        start = i + 1;
    }
    return out;
}

}  // namespace ks::plugin
