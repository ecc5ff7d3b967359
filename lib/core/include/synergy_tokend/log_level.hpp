// The severity of a log line, shared by the logger and the configuration (`log.level`). Pure.
#pragma once

namespace synergy_tokend {

enum class log_level { error, warn, info, debug };

// "error", "warn", "info" or "debug".
const char* to_string(log_level level);

} // namespace synergy_tokend
