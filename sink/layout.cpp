#include "layout.hpp"

#include <array>

#include "safe_path.hpp"

namespace ks::sink {
namespace {

constexpr std::array<std::string_view, 8> kVariables = {"user",    "uid",      "job",   "node",
                                                        "cluster", "transfer", "topic", "path"};

bool known_variable(std::string_view name) {
    for (auto v : kVariables)
        if (v == name) return true;
    return false;
}

const std::string* value_of(const LayoutVars& vars, std::string_view name) {
    if (name == "user") return &vars.user;
    if (name == "uid") return &vars.uid;
    if (name == "job") return &vars.job;
    if (name == "node") return &vars.node;
    if (name == "cluster") return &vars.cluster;
    if (name == "transfer") return &vars.transfer;
    if (name == "topic") return &vars.topic;
    return nullptr;
}

}  // namespace

Result<Layout> Layout::parse(std::string_view text) {
    Layout layout;
    layout.text_ = std::string(text);
    if (text.empty()) return fail("layout is empty");
    if (text.front() == '/') return fail("layout \"" + layout.text_ + "\" must be relative to the output root");
    std::vector<Component> components;
    std::size_t start = 0;
    bool path_seen = false;
    while (true) {
        auto slash = text.find('/', start);
        std::string_view raw =
            text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        bool last = slash == std::string_view::npos;
        if (raw.empty() || raw == "." || raw == "..")
            return fail("layout \"" + layout.text_ + "\": empty, \".\" or \"..\" component");
        Component comp;
        for (std::size_t i = 0; i < raw.size();) {
            if (raw[i] == '{') {
                auto close = raw.find('}', i);
                if (close == std::string_view::npos) return fail("layout \"" + layout.text_ + "\": unclosed '{'");
                std::string_view name = raw.substr(i + 1, close - i - 1);
                if (!known_variable(name))
                    return fail("layout \"" + layout.text_ + "\": unknown variable {" + std::string(name) +
                                "} (known: {user} {uid} {job} {node} {cluster} {transfer} {topic} {path})");
                comp.push_back({true, std::string(name)});
                i = close + 1;
            } else if (raw[i] == '}') {
                return fail("layout \"" + layout.text_ + "\": unmatched '}'");
            } else {
                auto next = raw.find_first_of("{}", i);
                std::string_view lit =
                    raw.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
                // Literal fragments may be anything but control bytes; the composed name is checked when rendered.
                for (char c : lit)
                    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                        return fail("layout \"" + layout.text_ + "\": control character");
                comp.push_back({false, std::string(lit)});
                i += lit.size();
            }
        }
        bool has_path = false;
        for (const auto& p : comp) has_path = has_path || (p.variable && p.text == "path");
        if (has_path) {
            if (path_seen || !last || comp.size() != 1)
                return fail("layout \"" + layout.text_ + "\": {path} must appear once, as the whole last component");
            path_seen = true;
        } else {
            components.push_back(std::move(comp));
        }
        if (last) break;
        start = slash + 1;
    }
    if (!path_seen) return fail("layout \"" + layout.text_ + "\": must end with /{path}");
    std::size_t job_components = 0;
    bool job_seen = false;
    for (const auto& comp : components) {
        bool per_node = false;
        for (const auto& p : comp) {
            per_node = per_node || (p.variable && (p.text == "node" || p.text == "transfer"));
            job_seen = job_seen || (p.variable && p.text == "job" && !per_node);
        }
        if (per_node) break;
        ++job_components;
    }
    if (!job_seen)
        return fail("layout \"" + layout.text_ +
                    "\": {job} must come before {node} and {transfer}, so that each job has its own directory for "
                    "_manifests/ and _SUCCESS");
    layout.components_ = std::move(components);
    layout.job_components_ = job_components;
    return layout;
}

Result<std::vector<std::string>> Layout::render(const LayoutVars& vars, std::size_t count) const {
    std::vector<std::string> out;
    out.reserve(count + 1);
    for (std::size_t c = 0; c < count; ++c) {
        std::string name;
        for (const auto& p : components_[c]) {
            if (!p.variable) {
                name += p.text;
                continue;
            }
            const std::string* v = value_of(vars, p.text);
            if (auto ok = check_component(*v); !ok)
                return fail("{" + p.text + "} = \"" + printable(*v) + "\": " + ok.error().message);
            name += *v;
        }
        if (auto ok = check_component(name); !ok)
            return fail("layout component \"" + printable(name) + "\": " + ok.error().message);
        out.push_back(std::move(name));
    }
    return out;
}

Result<std::vector<std::string>> Layout::file_path(const LayoutVars& vars, std::string_view relative_path) const {
    auto dir = render(vars, components_.size());
    if (!dir) return dir;
    auto rel = split_relative_path(relative_path);
    if (!rel) return rel;
    if (dir->size() + rel->size() > kMaxComponents) return fail("output path has too many components");
    for (auto& r : *rel) dir->push_back(std::move(r));
    // The job directory's own entries must not be shadowed by a node's directory or a file.
    const std::string& first = (*dir)[job_components_];
    if (first == kManifestDirName || first == kSuccessName)
        return fail("\"" + first + "\" is reserved in the job directory");
    return dir;
}

Result<std::vector<std::string>> Layout::job_dir(const LayoutVars& vars) const { return render(vars, job_components_); }

}  // namespace ks::sink
