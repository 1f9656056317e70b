// tmpdir= templates: where a job's $TMPDIR lives on a node, e.g. /scratch/%u/job_%j.
#pragma once
#include <string>
#include <string_view>

#include "result.hpp"

namespace ks::plugin {

struct TemplateValues {
    std::string job_id;  // %j
    std::string user;    // %u
    std::string uid;     // %U
    std::string node;    // %n (the Slurm node name, not the host name: several nodes may share a host)
};

// Expands %j %u %U %n and %%. Fails on any other %x, on a value that would add or escape a path component
// (empty, "/", "." or ".."), and unless the result is an absolute path without "." or ".." components.
Result<std::string> expand_tmpdir_template(std::string_view tmpl, const TemplateValues& values);

}  // namespace ks::plugin
