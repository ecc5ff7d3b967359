#include "synergy_tokend/log.hpp"

#include <cstdlib>
#include <string>
#include <unistd.h>

#include "synergy_tokend/clock.hpp"

namespace synergy_tokend::log {
namespace {

log_level current_level = log_level::info;
bool journal_format = false;

int syslog_priority(log_level level) {
    switch (level) {
    case log_level::error:
        return 3;
    case log_level::warn:
        return 4;
    case log_level::info:
        return 6;
    case log_level::debug:
        return 7;
    }
    return 6;
}

} // namespace

void set_level(log_level level) {
    current_level = level;
}

bool enabled(log_level level) {
    return static_cast<int>(level) <= static_cast<int>(current_level);
}

void detect_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    journal_format = stream != nullptr && *stream != '\0';
}

void write(log_level level, std::string_view component, std::string_view message) {
    if (!enabled(level))
        return;
    std::string line;
    line.reserve(48 + component.size() + message.size());
    if (journal_format) {
        line += '<';
        line += char('0' + syslog_priority(level));
        line += '>';
    } else {
        line += format_rfc3339(wall_clock::now());
        line += ' ';
        line += to_string(level);
        line += ' ';
    }
    line += component;
    line += ": ";
    // One event, one line: a newline inside a message (e.g. from an upstream body) is escaped.
    for (char c : message)
        line += (c == '\n' || c == '\r') ? ' ' : c;
    line += '\n';
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

} // namespace synergy_tokend::log
