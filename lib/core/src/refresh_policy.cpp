#include "synergy_tokend/refresh_policy.hpp"
#include "synergy_tokend/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace synergy_tokend {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Durations are computed in double milliseconds and brought back here: floor (never later than
// the policy allows), NaN as 0, and no overflow whatever the inputs.
milliseconds to_millis(double ms) {
    if (std::isnan(ms) || ms <= 0) {
        return milliseconds::zero();
    }
    constexpr double max_ms = 1e15; // about 31,700 years
    // The conversion truncates, which for a positive value is the floor.
    return milliseconds{static_cast<milliseconds::rep>(std::min(ms, max_ms))};
}

double as_double_ms(milliseconds d) {
    return static_cast<double>(d.count());
}
double as_double_ms(seconds d) {
    return static_cast<double>(d.count()) * 1000.0;
}

bool parse_fixed_digits(std::string_view s, int& out) {
    out = 0;
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        out = out * 10 + (c - '0');
    }
    return true;
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(int y, unsigned m) {
    constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; seconds since the epoch.
// The day name is checked for form, not for agreement with the date.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view s) {
    constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
    constexpr std::array<std::string_view, 12> month_names{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    //  0123456789012345678901234567890
    if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    if (std::none_of(day_names.begin(), day_names.end(),
                     [&](std::string_view n) { return iequals(n, s.substr(0, 3)); })) {
        return std::nullopt;
    }
    const auto month_it =
        std::find_if(month_names.begin(), month_names.end(),
                     [&](std::string_view n) { return iequals(n, s.substr(8, 3)); });
    if (month_it == month_names.end()) {
        return std::nullopt;
    }
    const auto month = static_cast<unsigned>(month_it - month_names.begin() + 1);
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (!parse_fixed_digits(s.substr(5, 2), day) || !parse_fixed_digits(s.substr(12, 4), year) ||
        !parse_fixed_digits(s.substr(17, 2), hour) ||
        !parse_fixed_digits(s.substr(20, 2), minute) ||
        !parse_fixed_digits(s.substr(23, 2), second)) {
        return std::nullopt;
    }
    if (day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60) { // 60: a leap second
        return std::nullopt;
    }
    return days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 + hour * 3600 +
           minute * 60 + second;
}

} // namespace

milliseconds refresh_delay(seconds lifetime, const refresh_config& cfg, double jitter_draw) {
    if (std::isnan(jitter_draw)) {
        jitter_draw = 0;
    }
    jitter_draw = std::clamp(jitter_draw, -1.0, 1.0);
    const double life = as_double_ms(lifetime);
    const double half = life * 0.5;
    const double base = std::min(life * cfg.refresh_at, life - as_double_ms(cfg.min_remaining));
    const double moved = base + jitter_draw * cfg.jitter * life;
    const double lo = half;
    const double hi = life - as_double_ms(cfg.min_serve_remaining);
    // A token shorter than min_serve_remaining (or a nonsensical config): half-life, so it is
    // refreshed again and again rather than at once.
    if (lo > hi || std::isnan(moved)) {
        return to_millis(half);
    }
    return to_millis(std::clamp(moved, lo, hi));
}

failure_class classify_status(unsigned http_status) {
    switch (http_status) {
    case 401:
    case 403:
        return failure_class::auth;
    case 408: // request timeout
    case 425: // too early
    case 429: // too many requests
        return failure_class::transient;
    default:
        break;
    }
    if (http_status >= 400 && http_status < 500) {
        return failure_class::rejected;
    }
    return failure_class::transient;
}

milliseconds backoff_delay(unsigned attempt, failure_class cls, std::optional<seconds> retry_after,
                           const refresh_config& cfg, double draw) {
    const milliseconds retry_max = std::max(cfg.retry_max, milliseconds::zero());
    if (cls == failure_class::rejected) {
        return retry_max;
    }
    if (attempt == 0) {
        attempt = 1;
    }
    // retry_initial * 2^(attempt-1), saturating at retry_max instead of overflowing.
    const auto initial = std::max(cfg.retry_initial, milliseconds::zero()).count();
    milliseconds cap = retry_max;
    if (const unsigned shift = attempt - 1; shift < 62 && initial <= (retry_max.count() >> shift)) {
        cap = milliseconds{initial << shift};
    }
    if (std::isnan(draw)) {
        draw = 0;
    }
    milliseconds delay = to_millis(std::clamp(draw, 0.0, 1.0) * as_double_ms(cap));
    if (retry_after) {
        // Compared in seconds first: a huge Retry-After must not overflow on the way to ms.
        const auto ra = std::max(*retry_after, seconds::zero());
        const milliseconds honoured = ra >= std::chrono::ceil<seconds>(retry_max)
                                          ? retry_max
                                          : std::min(milliseconds{ra}, retry_max);
        delay = std::max(delay, honoured);
    }
    return delay;
}

std::optional<seconds> parse_retry_after(std::string_view value,
                                         std::chrono::system_clock::time_point now) {
    value = trim(value, http_whitespace);
    if (value.empty()) {
        return std::nullopt;
    }
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // Saturate: a server asking for "forever" gets retry_max later anyway.
        constexpr std::int64_t limit = std::int64_t{1} << 40;
        std::int64_t n = 0;
        for (char c : value) {
            n = std::min(limit, n * 10 + (c - '0'));
        }
        return seconds{n};
    }
    const auto date = parse_imf_fixdate(value);
    if (!date) {
        return std::nullopt;
    }
    // Round up: retrying before the server's date is what Retry-After asks us not to do.
    const auto now_ms = std::chrono::floor<milliseconds>(now.time_since_epoch()).count();
    const std::int64_t diff_ms = *date * 1000 - now_ms;
    if (diff_ms <= 0) {
        return seconds::zero();
    }
    return seconds{(diff_ms + 999) / 1000};
}

} // namespace synergy_tokend
