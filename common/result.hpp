// Result types for library code: errors are values, never exceptions across module boundaries.
#pragma once
#include <expected>
#include <string>
#include <utility>

namespace ks {

struct Error {
    std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) { return std::unexpected(Error{std::move(message)}); }

}  // namespace ks
