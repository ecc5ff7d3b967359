#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include <unistd.h>

namespace synergy_auth_mock {

void log_line(std::string_view message) {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));

    std::string line = "synergy-auth-mock ";
    line += stamp;
    line += ' ';
    line += message;
    line += '\n';
    // One write(2) per line, so that lines of concurrent processes sharing stderr never mix.
    std::string_view rest = line;
    while (!rest.empty()) {
        const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n <= 0)
            return; // nowhere to report to
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace synergy_auth_mock
