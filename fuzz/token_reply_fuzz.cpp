// libFuzzer target: upstream's token reply (JSON, JWT payload decoding, lifetime rules) and error
// description must never crash, and a parsed reply must satisfy the contract.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "synergy_tokend/token_reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1795430000));
    const auto reply = synergy_tokend::parse_token_reply(text, std::chrono::seconds(3600), now);
    if (reply && (reply->token.empty() || reply->lifetime.count() <= 0))
        __builtin_trap();
    (void)synergy_tokend::jwt_expiry(text);
    (void)synergy_tokend::base64url_decode(text);
    (void)synergy_tokend::describe_upstream_error(500, text);
    return 0;
}
