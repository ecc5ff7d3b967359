#include "synergy_tokend/redact.hpp"
#include "synergy_tokend/text.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace synergy_tokend {

namespace {

std::uint64_t prefix_of(const char* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}
static_assert(min_secret_length == sizeof(std::uint64_t));

// The text as a JSON string's reader sees it: escapes decoded to the bytes they stand for, each
// decoded byte knowing the span of raw bytes it came from. A backslash that starts no valid
// escape stands for itself.
struct decoded_text {
    std::string bytes;
    std::vector<std::uint32_t> from; // raw offset of the escape (or byte) each byte came from
    std::vector<std::uint32_t> to;   // raw offset just past it
};

// The code unit of "\uXXXX" at `p`, or -1.
long u_escape_at(std::string_view s, std::size_t p) {
    if (p + 6 > s.size() || s[p] != '\\' || s[p + 1] != 'u')
        return -1;
    long v = 0;
    for (std::size_t i = p + 2; i < p + 6; ++i) {
        const int h = hex_value(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

decoded_text decode_json_escapes(std::string_view s) {
    decoded_text d;
    d.bytes.reserve(s.size());
    d.from.reserve(s.size());
    d.to.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t before = d.bytes.size();
        std::size_t len = 1;
        if (s[i] == '\\' && i + 1 < s.size()) {
            switch (s[i + 1]) {
            case '"':
            case '\\':
            case '/':
                d.bytes += s[i + 1];
                len = 2;
                break;
            case 'b':
                d.bytes += '\b';
                len = 2;
                break;
            case 'f':
                d.bytes += '\f';
                len = 2;
                break;
            case 'n':
                d.bytes += '\n';
                len = 2;
                break;
            case 'r':
                d.bytes += '\r';
                len = 2;
                break;
            case 't':
                d.bytes += '\t';
                len = 2;
                break;
            case 'u': {
                const long hi = u_escape_at(s, i);
                if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
                    break;
                if (hi >= 0xd800 && hi <= 0xdbff) {
                    const long lo = u_escape_at(s, i + 6);
                    if (lo < 0xdc00 || lo > 0xdfff)
                        break; // a lone high surrogate decodes to nothing a secret could hold
                    append_utf8(d.bytes, 0x10000 +
                                             ((static_cast<unsigned long>(hi) - 0xd800) << 10) +
                                             (static_cast<unsigned long>(lo) - 0xdc00));
                    len = 12;
                } else {
                    append_utf8(d.bytes, static_cast<unsigned long>(hi));
                    len = 6;
                }
                break;
            }
            default:
                break;
            }
        }
        if (d.bytes.size() == before)
            d.bytes += s[i]; // not an escape: the byte itself
        d.from.resize(d.bytes.size(), static_cast<std::uint32_t>(i));
        d.to.resize(d.bytes.size(), static_cast<std::uint32_t>(i + len));
        i += len;
    }
    return d;
}

using range = std::pair<std::size_t, std::size_t>; // [first, last) in raw offsets

} // namespace

void redactor::add(std::string_view secret) {
    if (secret.size() < min_secret_length)
        return;
    const std::uint64_t key = prefix_of(secret.data());
    const auto [first, last] = by_prefix_.equal_range(key);
    for (auto it = first; it != last; ++it)
        if (it->second == secret)
            return;
    by_prefix_.emplace(key, secret);
}

std::string redactor::redact(std::string_view text, std::span<const std::string_view> extra,
                             std::string_view keep) const {
    std::vector<range> found;
    // Every occurrence in `s` (raw text or its decoded form) of a secret, as raw ranges.
    auto scan = [&](std::string_view s, const decoded_text* d) {
        if (s.size() < min_secret_length)
            return;
        auto note = [&](std::size_t at, std::string_view secret) {
            if (secret.size() > s.size() - at || s.compare(at, secret.size(), secret) != 0 ||
                (!keep.empty() && secret == keep))
                return;
            const std::size_t last = at + secret.size() - 1;
            found.emplace_back(d ? d->from[at] : at, d ? d->to[last] : last + 1);
        };
        for (std::size_t at = 0; at + min_secret_length <= s.size(); ++at) {
            const std::uint64_t key = prefix_of(s.data() + at);
            if (!by_prefix_.empty()) {
                const auto [first, last] = by_prefix_.equal_range(key);
                for (auto it = first; it != last; ++it)
                    note(at, it->second);
            }
            for (std::string_view e : extra)
                if (e.size() >= min_secret_length && prefix_of(e.data()) == key)
                    note(at, e);
        }
    };
    scan(text, nullptr);
    if (text.find('\\') != std::string_view::npos) {
        const decoded_text d = decode_json_escapes(text);
        scan(d.bytes, &d);
    }
    if (found.empty())
        return std::string(text);

    std::sort(found.begin(), found.end());
    std::string out;
    out.reserve(text.size());
    std::size_t at = 0;
    for (std::size_t i = 0; i < found.size();) {
        // Overlapping or touching occurrences become one marker.
        std::size_t first = found[i].first;
        std::size_t last = found[i].second;
        for (++i; i < found.size() && found[i].first <= last; ++i)
            last = std::max(last, found[i].second);
        first = std::max(first, at);
        out.append(text.substr(at, first - at));
        out += redacted_marker;
        at = last;
    }
    out.append(text.substr(at));
    return out;
}

std::string redact(std::string_view text, std::span<const std::string_view> secrets) {
    return redactor{}.redact(text, secrets);
}

} // namespace synergy_tokend
