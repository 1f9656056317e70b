// Slurm host lists ("n[1-3,7],gpu[01-02]"): in a step, this node's name is the step's node list at this node's index.
// The step's environment can hold a stale SLURMD_NODENAME inherited from the batch script's node.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace ks::plugin {

// Expands a host list in order, e.g. "n[1-2],x" -> n1 n2 x, "r[1-2]c[01-02]" -> r1c01 r1c02 r2c01 r2c02.
// Zero padding follows the range's first number. Fails on malformed input or more than `limit` names.
Result<std::vector<std::string>> expand_hostlist(std::string_view list, std::size_t limit = 100000);

}  // namespace ks::plugin
