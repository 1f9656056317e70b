#include "glob_filter.hpp"

#include <fnmatch.h>

#include "wire_headers.hpp"

namespace ks::push {
namespace {

std::vector<std::string_view> split_components(std::string_view s) {
    std::vector<std::string_view> out;
    while (true) {
        auto slash = s.find('/');
        out.push_back(s.substr(0, slash));
        if (slash == std::string_view::npos) break;
        s.remove_prefix(slash + 1);
    }
    return out;
}

bool component_match(std::string_view pattern, std::string_view name) {
    // fnmatch needs NUL-terminated strings; components are short.
    return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

// Classic backtracking over components; "**" may absorb zero or more components.
bool match_components(const std::vector<std::string_view>& pat, std::size_t pi,
                      const std::vector<std::string_view>& path, std::size_t si) {
    while (pi < pat.size()) {
        if (pat[pi] == "**") {
            while (pi + 1 < pat.size() && pat[pi + 1] == "**") ++pi;  // "**/**" is "**"
            if (pi + 1 == pat.size()) return true;                    // trailing "**" takes the rest
            for (std::size_t k = si; k <= path.size(); ++k)
                if (match_components(pat, pi + 1, path, k)) return true;
            return false;
        }
        if (si >= path.size() || !component_match(pat[pi], path[si])) return false;
        ++pi;
        ++si;
    }
    return si == path.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
    if (pattern.find('/') == std::string_view::npos) {
        auto slash = path.rfind('/');
        std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        return pattern == "**" || component_match(pattern, name);
    }
    return match_components(split_components(pattern), 0, split_components(path), 0);
}

Result<GlobFilter> GlobFilter::create(std::vector<std::string> includes, std::vector<std::string> excludes) {
    for (const auto* list : {&includes, &excludes})
        for (const auto& p : *list) {
            if (p.empty()) return fail("empty glob pattern");
            if (p.front() == '/') return fail("glob \"" + p + "\": patterns are relative to DIR, drop the leading '/'");
            if (p.size() > wire::kMaxPathBytes) return fail("glob pattern too long");
        }
    GlobFilter f;
    f.includes_ = std::move(includes);
    f.excludes_ = std::move(excludes);
    return f;
}

bool GlobFilter::wants_file(std::string_view path) const {
    for (const auto& p : excludes_)
        if (glob_match(p, path)) return false;
    if (includes_.empty()) return true;
    for (const auto& p : includes_)
        if (glob_match(p, path)) return true;
    return false;
}

bool GlobFilter::excludes_directory(std::string_view path) const {
    for (const auto& p : excludes_)
        if (glob_match(p, path)) return true;
    return false;
}

}  // namespace ks::push
