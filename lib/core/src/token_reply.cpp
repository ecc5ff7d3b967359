#include "synergy_tokend/token_reply.hpp"
#include "synergy_tokend/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>

#include <boost/json.hpp>

namespace synergy_tokend {

namespace json = boost::json;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

class token_reply_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "token_reply"; }

    std::string message(int ev) const override {
        switch (static_cast<token_reply_errc>(ev)) {
        case token_reply_errc::not_json:
            return "upstream reply is not a JSON object";
        case token_reply_errc::missing_token:
            return "upstream reply has no data.token";
        case token_reply_errc::bad_lifetime:
            return "upstream reply has no usable lifetime";
        }
        return "unknown token_reply error";
    }
};

// Parses without throwing; anything but an object is "not JSON" for our purposes.
const json::object* parse_object(std::string_view text, json::value& storage) {
    boost::system::error_code ec;
    storage = json::parse(text, ec);
    if (ec) {
        return nullptr;
    }
    return storage.if_object();
}

// A number of seconds from a JSON number; nullopt unless finite. Clamped so that later
// arithmetic (to milliseconds, to system_clock ticks) cannot overflow.
std::optional<seconds> clamp_seconds(double s) {
    if (!std::isfinite(s)) {
        return std::nullopt;
    }
    const double cap = static_cast<double>(max_token_lifetime.count());
    // The conversion truncates towards zero: 3599.9 seconds are 3599.
    return seconds{static_cast<seconds::rep>(std::clamp(s, -cap, cap))};
}

bool all_digits(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whole seconds from a decimal string: "3600", "+3600", "-5", "3600.5" (the fraction is dropped,
// as for a JSON number). No exponent, "inf" or "nan". Digits beyond max_token_lifetime are
// clamped like a JSON number. Parsed as an integer, since only whole seconds count: exact, and
// without the floating-point std::from_chars and its share of the (statically linked) libstdc++.
std::optional<seconds> seconds_from_decimal(std::string_view s) {
    const bool negative = !s.empty() && s.front() == '-';
    if (!s.empty() && (s.front() == '+' || negative)) {
        s.remove_prefix(1);
    }
    const auto dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
    if ((whole.empty() && fraction.empty()) || !all_digits(whole) || !all_digits(fraction)) {
        return std::nullopt;
    }
    seconds::rep n = 0;
    for (const char c : whole) { // n stays <= max_token_lifetime, so n * 10 cannot overflow
        n = std::min<seconds::rep>(n * 10 + (c - '0'), max_token_lifetime.count());
    }
    return seconds{negative ? -n : n};
}

// expiresIn is documented as a string holding a number but sent as a number: accept both.
// Only plain decimal notation is accepted in strings ("3600", "3600.5", "-5"), no exponent.
std::optional<seconds> expires_in_seconds(const json::value& v) {
    switch (v.kind()) {
    case json::kind::int64:
        return clamp_seconds(static_cast<double>(v.get_int64()));
    case json::kind::uint64:
        return clamp_seconds(static_cast<double>(v.get_uint64()));
    case json::kind::double_:
        return clamp_seconds(v.get_double());
    case json::kind::string:
        return seconds_from_decimal(trim(v.get_string()));
    default:
        return std::nullopt;
    }
}

// A header value must not smuggle CR/LF or other controls into `Authorization: Bearer ...`.
bool is_visible_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

constexpr std::int8_t b64_invalid = -1;

constexpr std::array<std::int8_t, 256> make_b64_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& x : t) {
        x = b64_invalid;
    }
    constexpr std::string_view std_alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (std::size_t i = 0; i < std_alphabet.size(); ++i) {
        t[static_cast<unsigned char>(std_alphabet[i])] = static_cast<std::int8_t>(i);
    }
    t['+'] = 62;
    t['-'] = 62;
    t['/'] = 63;
    t['_'] = 63;
    return t;
}

constexpr auto b64_table = make_b64_table();

// At most `max` bytes of `s` (cut on a UTF-8 boundary), with C0/C1 controls and DEL dropped:
// upstream's text goes into log lines, which must stay one line each and free of terminal escapes.
std::string sanitize(std::string_view s, std::size_t max) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x20 || u == 0x7f) {
            continue;
        }
        if (u == 0xc2 && i + 1 < s.size()) {
            const auto next = static_cast<unsigned char>(s[i + 1]);
            if (next >= 0x80 && next <= 0x9f) {
                ++i;
                continue;
            }
        }
        out += s[i];
    }
    if (out.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0u) == 0x80u) {
            --cut;
        }
        out.resize(cut);
    }
    return out;
}

// Upstream may echo what it was sent, and what it is sent includes the identity token: any long
// run of token-ish characters (JWTs, opaque secrets) is replaced before the text reaches a log.
std::string redact_secrets(std::string_view s) {
    constexpr std::size_t secret_run = 24;
    auto tokenish = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == '=' || c == '~';
    };
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (!tokenish(s[i])) {
            out += s[i++];
            continue;
        }
        std::size_t j = i;
        while (j < s.size() && tokenish(s[j])) {
            ++j;
        }
        if (j - i >= secret_run) {
            out += "[redacted]";
        } else {
            out.append(s.substr(i, j - i));
        }
        i = j;
    }
    return out;
}

const json::string* string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v ? v->if_string() : nullptr;
}

} // namespace

const boost::system::error_category& token_reply_category() {
    static const token_reply_category_impl instance;
    return instance;
}

boost::system::error_code make_error_code(token_reply_errc e) {
    return {static_cast<int>(e), token_reply_category()};
}

std::optional<std::string> base64url_decode(std::string_view in) {
    std::size_t padding = 0;
    while (!in.empty() && in.back() == '=') {
        in.remove_suffix(1);
        ++padding;
    }
    if (padding > 2 || (padding > 0 && (in.size() + padding) % 4 != 0) || in.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(in.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const auto v = b64_table[static_cast<unsigned char>(c)];
        if (v == b64_invalid) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xffu);
        }
    }
    return out;
}

std::string base64url_encode(std::string_view in) {
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        acc = (acc << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 0x3fu];
        }
    }
    if (bits > 0) {
        out += alphabet[(acc << (6 - bits)) & 0x3fu];
    }
    return out;
}

std::optional<system_clock::time_point> jwt_expiry(std::string_view jwt) {
    const auto dot1 = jwt.find('.');
    if (dot1 == std::string_view::npos) {
        return std::nullopt;
    }
    const auto dot2 = jwt.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    const auto header = jwt.substr(0, dot1);
    const auto payload = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
    const auto signature = jwt.substr(dot2 + 1);
    if (header.empty() || payload.empty() || signature.empty()) {
        return std::nullopt;
    }
    const auto decoded = base64url_decode(payload);
    if (!decoded) {
        return std::nullopt;
    }
    json::value storage;
    const auto* claims = parse_object(*decoded, storage);
    if (!claims) {
        return std::nullopt;
    }
    const auto* exp = claims->if_contains("exp");
    if (!exp || !exp->is_number()) {
        return std::nullopt;
    }
    double exp_s = 0;
    switch (exp->kind()) {
    case json::kind::int64:
        exp_s = static_cast<double>(exp->get_int64());
        break;
    case json::kind::uint64:
        exp_s = static_cast<double>(exp->get_uint64());
        break;
    default:
        exp_s = exp->get_double();
        break;
    }
    if (!std::isfinite(exp_s)) {
        return std::nullopt;
    }
    // system_clock counts nanoseconds in an int64 (about ±292 years): keep within that.
    constexpr double limit = 8.0e9;
    exp_s = std::clamp(exp_s, -limit, limit);
    return system_clock::time_point{
        std::chrono::duration_cast<system_clock::duration>(std::chrono::duration<double>{exp_s})};
}

boost::system::result<token_reply>
parse_token_reply(std::string_view body, seconds default_lifetime, system_clock::time_point now) {
    json::value storage;
    const auto* root = parse_object(body, storage);
    if (!root) {
        return token_reply_errc::not_json;
    }
    const auto* data_v = root->if_contains("data");
    const auto* data = data_v ? data_v->if_object() : nullptr;
    const auto* token = data ? string_at(*data, "token") : nullptr;
    if (!token || token->empty() || !is_visible_ascii(*token)) {
        return token_reply_errc::missing_token;
    }

    token_reply reply;
    reply.token.assign(token->data(), token->size());
    if (const auto* type = string_at(*data, "tokenType");
        type && !type->empty() && is_visible_ascii(*type)) {
        reply.token_type.assign(type->data(), type->size());
    }

    std::optional<seconds> lifetime;
    if (const auto* expires_in = data->if_contains("expiresIn")) {
        lifetime = expires_in_seconds(*expires_in);
    }
    if (const auto exp = jwt_expiry(reply.token)) {
        // Millisecond steps keep the difference of any two time_points from overflowing.
        using std::chrono::floor;
        using std::chrono::milliseconds;
        const auto left = floor<seconds>(floor<milliseconds>(exp->time_since_epoch()) -
                                         floor<milliseconds>(now.time_since_epoch()));
        const auto from_exp = std::clamp(left, -max_token_lifetime, max_token_lifetime);
        lifetime = lifetime ? std::min(*lifetime, from_exp) : from_exp;
    }
    if (!lifetime) {
        lifetime = default_lifetime;
        reply.lifetime_defaulted = true;
    }
    if (*lifetime <= seconds::zero()) {
        return token_reply_errc::bad_lifetime;
    }
    reply.lifetime = std::min(*lifetime, max_token_lifetime);
    return reply;
}

std::string describe_upstream_error(unsigned status, std::string_view body) {
    std::string out = "HTTP " + std::to_string(status);
    if (trim(body).empty()) {
        return out + " (empty body)";
    }
    json::value storage;
    const auto* root = parse_object(body, storage);
    if (!root) {
        return out + " (non-JSON body)";
    }
    const auto* error_v = root->if_contains("error");
    const auto* error = error_v ? error_v->if_object() : nullptr;
    if (!error) {
        return out;
    }
    const json::object* first = nullptr;
    if (const auto* errors_v = error->if_contains("errors")) {
        if (const auto* errors = errors_v->if_array(); errors && !errors->empty()) {
            first = errors->front().if_object();
        }
    }
    if (const auto* reason = first ? string_at(*first, "reason") : nullptr) {
        const auto r = sanitize(redact_secrets(*reason), 40);
        if (!r.empty()) {
            out += ' ';
            out += r;
        }
    }
    const auto* message = string_at(*error, "message");
    if ((!message || message->empty()) && first) {
        message = string_at(*first, "message");
    }
    if (message) {
        const auto m = sanitize(redact_secrets(*message), 200);
        if (!m.empty()) {
            out += ": ";
            out += m;
        }
    }
    return out;
}

} // namespace synergy_tokend
