#include "command_line.hpp"

#include <optional>

namespace ks::cli {
namespace {

const Spec* find(std::span<const Spec* const> table, std::string_view name, std::size_t& index) {
    for (std::size_t i = 0; i < table.size(); ++i)
        if (table[i]->name == name || (!table[i]->alias.empty() && table[i]->alias == name)) {
            index = i;
            return table[i];
        }
    return nullptr;
}

bool is_one_letter(std::string_view name) { return name.size() == 2 && name[0] == '-' && name[1] != '-'; }

}  // namespace

Result<Walk> walk(std::span<const Spec* const> table, const std::vector<std::string_view>& args) {
    Walk out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--") {
            out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            out.positional.emplace_back(arg);
            continue;
        }
        std::string_view name = arg;
        std::optional<std::string_view> inline_value;
        if (arg.starts_with("--")) {
            if (auto eq = arg.find('='); eq != std::string_view::npos) {
                name = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
            }
        } else if (arg.size() > 2) {  // "-Xkey=value": a one-letter option with its value attached
            name = arg.substr(0, 2);
            inline_value = arg.substr(2);
        }
        std::size_t index = 0;
        const Spec* spec = find(table, name, index);
        if (!spec || (inline_value && !arg.starts_with("--") && (!is_one_letter(name) || spec->value_name.empty())))
            return fail("unknown option \"" + std::string(arg) + "\"");
        if (spec->value_name.empty()) {
            if (inline_value) return fail(std::string(name) + " takes no value");
            out.given.push_back({index, {}});
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= args.size()) return fail(std::string(name) + " needs a value");
            inline_value = args[++i];
        }
        out.given.push_back({index, std::string(*inline_value)});
    }
    return out;
}

std::string help(std::span<const Spec* const> table, std::size_t column) {
    std::string out;
    for (const Spec* spec : table) {
        if (spec->help.empty()) continue;
        std::string names = "  ";
        if (!spec->alias.empty()) names += std::string(spec->alias) + ", ";
        names += spec->name;
        if (!spec->value_name.empty()) names += " " + std::string(spec->value_name);
        out += names;
        if (names.size() + 2 > column) out += "\n" + std::string(column, ' ');
        else out += std::string(column - names.size(), ' ');
        std::string_view text = spec->help;
        for (bool first = true; !text.empty(); first = false) {
            auto nl = text.find('\n');
            if (!first) out += std::string(column, ' ');
            out += text.substr(0, nl);
            out += '\n';
            if (nl == std::string_view::npos) break;
            text.remove_prefix(nl + 1);
        }
    }
    return out;
}

}  // namespace ks::cli
