// Logging for the tools: one line per event on stderr, "<program>: <level>: <message>".
// A Log is created in main() and handed down; nothing global.
#pragma once
#include <string>
#include <string_view>

namespace ks {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

class Log {
public:
    explicit Log(std::string program, LogLevel threshold = LogLevel::info)
        : program_(std::move(program)), threshold_(threshold) {}
    void set_threshold(LogLevel level) { threshold_ = level; }
    void debug(std::string_view msg) const { write(LogLevel::debug, msg); }
    void info(std::string_view msg) const { write(LogLevel::info, msg); }
    void warning(std::string_view msg) const { write(LogLevel::warning, msg); }
    void error(std::string_view msg) const { write(LogLevel::error, msg); }
    void write(LogLevel level, std::string_view msg) const;

private:
    std::string program_;
    LogLevel threshold_;
};

}  // namespace ks
