// Small text helpers, one of each for the whole code base (ASCII only, as HTTP and the config
// are). Pure.
#pragma once

#include <string_view>

namespace synergy_tokend {

// Spaces and tabs: HTTP's optional whitespace around a header value.
inline constexpr std::string_view http_whitespace = " \t";
// Spaces, tabs and line ends: around a value read from a file or a JSON string.
inline constexpr std::string_view line_whitespace = " \t\r\n";

// `s` without the leading and trailing characters that are in `chars`.
constexpr std::string_view trim(std::string_view s, std::string_view chars = line_whitespace) {
    const auto first = s.find_first_not_of(chars);
    if (first == std::string_view::npos)
        return {};
    return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The value of a hexadecimal digit, or -1 when `c` is none.
constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Equal ignoring the case of ASCII letters.
constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

} // namespace synergy_tokend
