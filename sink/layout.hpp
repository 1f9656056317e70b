// Where a received file goes under the output root: a template such as the default "{user}/{job}/{node}/{path}".
//
// Variables: {user} {uid} {job} {node} {cluster} {transfer} {topic} {path}. {path} (the file's path relative to the
// directory the job pushed) must appear exactly once, as the whole last component. Any other text is literal.
// Every variable value must be a single safe name component (see safe_path.hpp), so no value can add or climb
// directories.
//
// The job directory (where _manifests/<node>.json and the _SUCCESS marker go) is the leading components of the
// template that use none of {node}, {transfer}, {path}; it must contain {job}, so that every job has its own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::sink {

inline constexpr std::string_view kDefaultLayout = "{user}/{job}/{node}/{path}";
// Reserved names in the job directory.
inline constexpr std::string_view kManifestDirName = "_manifests";
inline constexpr std::string_view kSuccessName = "_SUCCESS";

struct LayoutVars {
    std::string user;
    std::string uid;
    std::string job;
    std::string node;
    std::string cluster;
    std::string transfer;
    std::string topic;
};

class Layout {
public:
    // Fails on unknown variables, unbalanced braces, a misplaced {path}, empty or "."/".." components,
    // or no {job} before the first per-node component.
    static Result<Layout> parse(std::string_view text);

    // Components of the final file path relative to ROOT; `relative_path` is split and checked too.
    Result<std::vector<std::string>> file_path(const LayoutVars& vars, std::string_view relative_path) const;
    // Components of the job directory relative to ROOT.
    Result<std::vector<std::string>> job_dir(const LayoutVars& vars) const;

    const std::string& text() const { return text_; }

private:
    // A template component: a sequence of literal text and variables.
    struct Piece {
        bool variable = false;
        std::string text;  // literal text, or the variable's name
    };
    using Component = std::vector<Piece>;

    Result<std::vector<std::string>> render(const LayoutVars& vars, std::size_t count) const;

    std::string text_;
    std::vector<Component> components_;  // without the final {path}
    std::size_t job_components_ = 0;     // leading components forming the job directory
};

}  // namespace ks::sink
