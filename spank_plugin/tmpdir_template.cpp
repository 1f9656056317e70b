#include "tmpdir_template.hpp"

namespace ks::plugin {
namespace {

// A substituted value becomes (part of) one path component: it must not introduce a separator or a dot component.
Result<void> check_value(char spec, std::string_view value) {
    if (value.empty()) return fail(std::string("%") + spec + " is unknown here (empty value)");
    if (value == "." || value == ".." || value.find('/') != std::string_view::npos ||
        value.find('\0') != std::string_view::npos)
        return fail(std::string("%") + spec + " = '" + std::string(value) + "' cannot be used in a path");
    return {};
}

bool has_dot_component(std::string_view path) {
    std::size_t start = 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part == "." || part == "..") return true;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return false;
}

}  // namespace

Result<std::string> expand_tmpdir_template(std::string_view tmpl, const TemplateValues& values) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '%') {
            out += tmpl[i];
            continue;
        }
        if (i + 1 == tmpl.size()) return fail("tmpdir=" + std::string(tmpl) + ": ends with a lone %");
        char spec = tmpl[++i];
        const std::string* value = nullptr;
        switch (spec) {
        case 'j':
            value = &values.job_id;
            break;
        case 'u':
            value = &values.user;
            break;
        case 'U':
            value = &values.uid;
            break;
        case 'n':
            value = &values.node;
            break;
        case '%':
            out += '%';
            continue;
        default:
            return fail("tmpdir=" + std::string(tmpl) + ": unknown %" + spec + " (defined: %j %u %U %n %%)");
        }
        if (auto ok = check_value(spec, *value); !ok)
            return fail("tmpdir=" + std::string(tmpl) + ": " + ok.error().message);
        out += *value;
    }
    if (out.empty() || out.front() != '/' || has_dot_component(out))
        return fail("tmpdir=" + std::string(tmpl) + " gives '" + out + "', which is not a plain absolute path");
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

}  // namespace ks::plugin
