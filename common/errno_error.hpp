// The text of a failed system call as an Error: "what: strerror(errno)". Header-only, so the plugin can use it too.
#pragma once
#include <cerrno>
#include <cstring>
#include <string>

#include "result.hpp"

namespace ks {

// errno is left unchanged: callers still classify the failure by it (ENOSPC, EDQUOT, ELOOP...) afterwards.
inline Error errno_error(const std::string& what) {
    const int saved = errno;
    Error e{what + ": " + std::strerror(saved)};
    errno = saved;
    return e;
}

inline std::unexpected<Error> fail_errno(const std::string& what) { return std::unexpected(errno_error(what)); }

}  // namespace ks
