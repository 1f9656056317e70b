// The command-line walk both tools share: each tool lists its options in one table (names, whether the option takes
// a value, what it does with it, its help), and this walks argv against it, so "--opt value", "--opt=value", "-Xvalue"
// and "--" mean the same in kafka-stream-push and kafka-stream-sink, and a wrong option reads the same in both.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "result.hpp"

namespace ks::cli {

// An option's names, value and help; what it does is in Option<Target>.
struct Spec {
    std::string_view name;             // "--topic"; a one-letter name ("-X") that takes a value also takes "-Xvalue"
    std::string_view alias = {};       // another name, listed first in the help ("-v" of "--verbose")
    std::string_view value_name = {};  // what the value is, for the help ("FILE"); empty: a flag, which takes none
    std::string help = {};             // lines after the first are continuation lines; empty: not listed
};

// One option given on the command line, in order: its index in the table and its value ("" for a flag).
struct Given {
    std::size_t option;
    std::string value;
};

struct Walk {
    std::vector<Given> given;
    std::vector<std::string> positional;  // words not starting with '-', "-" itself, and everything after "--"
};

// Matches args against the table. Errors: `unknown option "ARG"`, `OPT needs a value`, `OPT takes no value`.
Result<Walk> walk(std::span<const Spec* const> table, const std::vector<std::string_view>& args);

// The table as help lines: "  ALIAS, NAME VALUE", the help's first line from `column` on (on the next line if the
// names reach it), its other lines indented to `column`.
std::string help(std::span<const Spec* const> table, std::size_t column);

// A table entry: the Spec and what the option does to the tool's parsed values. A handler's error is prefixed with
// "OPT: " unless it already starts with the option's name.
template <class Target>
struct Option : Spec {
    Result<void> (*apply)(Target&, std::string_view value);
};

// Handlers for the common cases: the value (or what `Parse` makes of it) into a field or appended to a list, or a
// flag set. Written without `&`: `cli::store<&Args::group>`, `cli::store<&Args::timeout, parse_seconds>`.
template <auto Field, auto Parse = nullptr>
Result<void> store(auto& target, std::string_view value) {
    if constexpr (std::is_null_pointer_v<decltype(Parse)>) {  // not Parse == nullptr: not constant under UBSan
        target.*Field = value;
    } else {
        TRY_ASSIGN(target.*Field, Parse(value));
    }
    return {};
}
template <auto Field, auto Parse = nullptr>
Result<void> append(auto& target, std::string_view value) {
    if constexpr (std::is_null_pointer_v<decltype(Parse)>) {  // not Parse == nullptr: not constant under UBSan
        (target.*Field).emplace_back(value);
    } else {
        TRY_ASSIGN(auto parsed, Parse(value));
        (target.*Field).push_back(std::move(parsed));
    }
    return {};
}
template <auto Field>
Result<void> set_flag(auto& target, std::string_view) {
    target.*Field = true;
    return {};
}

template <class Target>
std::vector<const Spec*> specs_of(std::span<const Option<Target>> table) {
    std::vector<const Spec*> specs;
    for (const auto& o : table) specs.push_back(&o);
    return specs;
}

// Walks args against the table and applies each option to `out` in order; returns the positional arguments.
template <class Target>
Result<std::vector<std::string>> parse(std::span<const Option<Target>> table, const std::vector<std::string_view>& args,
                                       Target& out) {
    TRY_ASSIGN(auto walked, walk(specs_of(table), args));
    for (const auto& g : walked.given) {
        const auto& option = table[g.option];
        if (auto ok = option.apply(out, g.value); !ok) {
            std::string message = std::move(ok.error().message);
            if (!message.starts_with(option.name)) message = std::string(option.name) + ": " + message;
            return fail(std::move(message));
        }
    }
    return std::move(walked.positional);
}

template <class Target>
std::string help(std::span<const Option<Target>> table, std::size_t column) {
    return help(specs_of(table), column);
}

}  // namespace ks::cli
