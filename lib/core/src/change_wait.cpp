#include "synergy_tokend/change_wait.hpp"

#include <algorithm>

#include "synergy_tokend/text.hpp"

namespace synergy_tokend {

namespace {

constexpr std::size_t max_etag_length = 256;

// RFC 9110 etagc: a visible character other than '"' (and obs-text).
bool is_etagc(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x7e) || u >= 0x80;
}

bool all_etagc(std::string_view s) {
    return std::all_of(s.begin(), s.end(), is_etagc);
}

// Percent-decoding of a query value ('+' stays '+'); nullopt for a bad escape.
std::optional<std::string> decode_query_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '%') {
            out += v[i];
            continue;
        }
        if (i + 2 >= v.size())
            return std::nullopt;
        const int hi = hex_value(v[i + 1]);
        const int lo = hex_value(v[i + 2]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

constexpr const char* etag_expected =
    "etag: expected the ETag of the token you have, e.g. etag=%223f2a%22 or etag=3f2a";
constexpr const char* wait_expected = "wait: expected whole seconds from 0 to 3600";
constexpr const char* if_none_match_expected =
    "If-None-Match: expected a list of entity tags such as \"3f2a\"";

} // namespace

bool change_wait::matches(std::string_view current) const {
    return std::find(etags.begin(), etags.end(), current) != etags.end();
}

change_wait_parse parse_change_wait(std::string_view target,
                                    std::optional<std::string_view> if_none_match) {
    change_wait_parse out;
    bool seen_wait = false;
    bool seen_etag = false;
    std::optional<std::string> query_etag;

    const auto q = target.find('?');
    std::string_view query =
        q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::string_view raw =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (key == "wait") {
            if (seen_wait) {
                out.error = "wait: given more than once";
                return out;
            }
            seen_wait = true;
            const bool digits =
                !raw.empty() && raw.size() <= 5 &&
                std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; });
            long seconds = 0;
            for (char c : digits ? raw : std::string_view{})
                seconds = seconds * 10 + (c - '0');
            if (!digits || seconds > max_wait_seconds) {
                out.error = wait_expected;
                return out;
            }
            out.value.wait = std::chrono::seconds(seconds);
        } else if (key == "etag") {
            if (seen_etag) {
                out.error = "etag: given more than once";
                return out;
            }
            seen_etag = true;
            std::optional<std::string> decoded = decode_query_value(raw);
            if (!decoded) {
                out.error = etag_expected;
                return out;
            }
            std::string_view tag = *decoded;
            if (tag.starts_with("W/"))
                tag.remove_prefix(2);
            if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
                tag = tag.substr(1, tag.size() - 2);
            if (tag.size() > max_etag_length || !all_etagc(tag)) {
                out.error = etag_expected;
                return out;
            }
            if (!tag.empty())
                query_etag = "\"" + std::string(tag) + "\"";
        }
    }

    if (seen_etag) {
        if (query_etag)
            out.value.etags.push_back(std::move(*query_etag));
        return out;
    }
    if (!if_none_match)
        return out;
    // #( [ "W/" ] DQUOTE *etagc DQUOTE ), separated by commas and optional whitespace.
    std::string_view rest = trim(*if_none_match, http_whitespace);
    if (rest == "*") {
        out.error = "If-None-Match: \"*\" names no version of the token; send its ETag";
        return out;
    }
    while (!rest.empty()) {
        if (rest.front() == ',') { // empty list elements are allowed
            rest = trim(rest.substr(1), http_whitespace);
            continue;
        }
        if (rest.starts_with("W/"))
            rest.remove_prefix(2);
        if (rest.empty() || rest.front() != '"') {
            out.error = if_none_match_expected;
            return out;
        }
        const auto close = rest.find('"', 1);
        if (close == std::string_view::npos || close - 1 > max_etag_length ||
            !all_etagc(rest.substr(1, close - 1))) {
            out.error = if_none_match_expected;
            return out;
        }
        out.value.etags.emplace_back(rest.substr(0, close + 1));
        rest = trim(rest.substr(close + 1), http_whitespace);
        if (!rest.empty() && rest.front() != ',') {
            out.error = if_none_match_expected;
            return out;
        }
        if (out.value.etags.size() > 16) {
            out.error = "If-None-Match: expected at most 16 entity tags";
            return out;
        }
    }
    if (out.value.etags.empty())
        out.error = if_none_match_expected;
    return out;
}

} // namespace synergy_tokend
