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

// Propagating an error unchanged, in the style of ccache's TRY / TRY_ASSIGN; only in a function that returns a
// Result (or another std::expected with the same error type). Where the error needs context, write the `if` out.
//   TRY(expr);                   expr's error is returned as is; its value (if any) is dropped
//   TRY_ASSIGN(auto v, expr);    v = expr's value (moved), or expr's error returned; `v` may also be an existing
//                                lvalue. Declares a hidden variable: a statement of its own, never the body of an
//                                unbraced if/for, at most one per line.
#define TRY(expr)                                                                                            \
    do {                                                                                                     \
        if (auto&& ks_try_result_ = (expr); !ks_try_result_) return std::unexpected(ks_try_result_.error()); \
    } while (false)
#define KS_TRY_CONCAT_(a, b) a##b
#define KS_TRY_NAME_(line) KS_TRY_CONCAT_(ks_try_result_, line)
#define TRY_ASSIGN(target, expr)                                                                    \
    auto KS_TRY_NAME_(__LINE__) = (expr);                                                           \
    if (!KS_TRY_NAME_(__LINE__)) return std::unexpected(std::move(KS_TRY_NAME_(__LINE__)).error()); \
    target = std::move(*KS_TRY_NAME_(__LINE__))
