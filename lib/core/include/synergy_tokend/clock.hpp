// Time formatting shared by the local API, /status and logs. Pure.
#pragma once

#include <chrono>
#include <string>

namespace synergy_tokend {

using wall_clock = std::chrono::system_clock;

// RFC 3339 UTC with whole seconds: "2026-11-23T08:43:41Z".
std::string format_rfc3339(wall_clock::time_point t);

// Whole seconds from `now` until `t`, rounded down; negative when `t` is past.
long long whole_seconds_until(wall_clock::time_point t, wall_clock::time_point now);

} // namespace synergy_tokend
