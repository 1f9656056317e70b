// --include / --exclude: which files of the job's directory are sent.
//
// Patterns are fnmatch(3) globs on the path relative to DIR ('/'-separated):
//  - a pattern without '/' matches the last component (the file name) at any depth: "*.csv" matches "out/a.csv";
//  - a pattern with '/' matches the whole relative path component by component ('*', '?' and '[...]' never cross a
//    '/'); a component "**" matches zero or more whole components: "out/**/*.csv" matches "out/a.csv" and
//    "out/x/y/a.csv", "**/tmp/**" matches anything under any directory named "tmp".
//  - Names starting with '.' are matched like any other name.
// A file is sent when it matches no exclude pattern and, if any include pattern is given, at least one include
// pattern. Exclusion wins. Exclude patterns are also tried on directories, so an excluded directory is not even walked.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::push {

// True when `pattern` (semantics above) matches the relative `path`.
bool glob_match(std::string_view pattern, std::string_view path);

class GlobFilter {
public:
    GlobFilter() = default;
    // Fails on an empty pattern, a pattern starting with '/', or one longer than a path may be.
    static Result<GlobFilter> create(std::vector<std::string> includes, std::vector<std::string> excludes);

    bool wants_file(std::string_view path) const;
    bool excludes_directory(std::string_view path) const;

private:
    std::vector<std::string> includes_;
    std::vector<std::string> excludes_;
};

}  // namespace ks::push
