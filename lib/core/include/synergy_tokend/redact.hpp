// Secrets out of text that came from upstream (PRODUCT.md §6). Pure.
//
// Upstream may echo what it was sent, and what it is sent includes identity tokens and product
// tokens. Every string from upstream goes through a redactor before it reaches a log line,
// /status, /metrics or a local error body: each occurrence of any secret it holds is replaced
// with "[redacted]".
//
// An occurrence counts also in the forms JSON text gives a string: any of its characters may be
// written as an escape (`\/` for '/', as PHP's json_encode writes it, `\"`, `\\`, `\n` and the
// other short forms, `\u00XX`, `\uXXXX` and surrogate pairs for non-ASCII characters). Other
// encodings (percent-encoding, base64, JSON escaped twice) are not recognised; for log lines,
// describe_upstream_error's rule on long runs of token-like characters covers most of those.
//
// Secrets shorter than min_secret_length are ignored: a string that short is no secret, and
// redacting it would garble ordinary words.
//
// Cost: one hash lookup per byte of the text (two passes when it holds a backslash), plus one
// comparison per held secret whose first min_secret_length bytes occur at that place. JWTs share
// their first bytes, so an echoed JWT costs one comparison per token held (a few thousand, on an
// error path); text without one costs the same whatever the number of secrets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace synergy_tokend {

inline constexpr std::size_t min_secret_length = 8;
inline constexpr std::string_view redacted_marker = "[redacted]";

class redactor {
public:
    // Adds a secret (ignored when shorter than min_secret_length, or already held). Keeps a view:
    // `secret`'s characters must outlive the redactor, or its next clear().
    void add(std::string_view secret);
    void clear() { by_prefix_.clear(); }
    std::size_t size() const { return by_prefix_.size(); }

    // `text` with every occurrence of a held secret, and of each of `extra` (views used for this
    // call only), replaced by redacted_marker. Occurrences of `keep` are left alone: the secret of
    // the one the text is for (a drop-in caller's own identity token in upstream's reply to it).
    std::string redact(std::string_view text, std::span<const std::string_view> extra = {},
                       std::string_view keep = {}) const;

private:
    // By the first min_secret_length bytes, read as one integer.
    std::unordered_multimap<std::uint64_t, std::string_view> by_prefix_;
};

// `text` with every occurrence of each of `secrets` replaced, as redactor::redact does.
std::string redact(std::string_view text, std::span<const std::string_view> secrets);

} // namespace synergy_tokend
