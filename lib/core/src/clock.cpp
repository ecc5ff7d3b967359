#include "synergy_tokend/clock.hpp"

#include <cstdio>

namespace synergy_tokend {

std::string format_rfc3339(wall_clock::time_point t) {
    const auto secs = std::chrono::floor<std::chrono::seconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(secs);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{secs - days};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()));
    return buf;
}

long long whole_seconds_until(wall_clock::time_point t, wall_clock::time_point now) {
    return std::chrono::floor<std::chrono::seconds>(t - now).count();
}

} // namespace synergy_tokend
