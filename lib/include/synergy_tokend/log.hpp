// One line per event on stderr: "2026-11-23T08:43:41Z warn token_store: profile stats: ...".
// Under journald (JOURNAL_STREAM set) each line starts with a "<N>" syslog priority instead of the
// timestamp, so journalctl shows levels. Callers must never pass a token, an identity token or an
// Authorization value: messages are written as given.
//
// Not thread-safe by design: the daemon logs from its one event-loop thread only (each line is a
// single write(2), so lines from the CLI or tests never interleave mid-line).
#pragma once

#include <string_view>

#include "synergy_tokend/log_level.hpp"

namespace synergy_tokend::log {

void set_level(log_level level);
bool enabled(log_level level);
// Chooses the journald format when JOURNAL_STREAM is set in the environment.
void detect_journal();

void write(log_level level, std::string_view component, std::string_view message);

inline void error(std::string_view component, std::string_view message) {
    write(log_level::error, component, message);
}
inline void warn(std::string_view component, std::string_view message) {
    write(log_level::warn, component, message);
}
inline void info(std::string_view component, std::string_view message) {
    write(log_level::info, component, message);
}
inline void debug(std::string_view component, std::string_view message) {
    if (enabled(log_level::debug))
        write(log_level::debug, component, message);
}

} // namespace synergy_tokend::log
