// libFuzzer target: unsealing a shared-cache entry (sealed_entry), the code every daemon runs on
// the bytes it reads from Redis, which anyone with write access to Redis controls.
//
// Input layout: byte 0 picks the mode; the rest is data.
//   mode even: the data is a Redis value, unsealed as it came;
//   mode odd:  the data makes a plaintext entry (token and type from it), which is sealed, then one
//              byte of the sealed value (chosen by the data) is altered by the mode's bits.
//
// Invariants checked on every run:
// - unseal_entry() never crashes and always gives exactly one of an entry or a problem;
// - arbitrary bytes never unseal (forging needs the key);
// - a sealed entry unseals to what was sealed, under its own key name only;
// - any altered byte makes it fail; a problem never contains the token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "synergy_tokend/sealed_entry.hpp"

namespace st = synergy_tokend;

namespace {

const st::shared_keys& keys() {
    static const st::shared_keys k = st::derive_shared_keys("fuzz-identity-token");
    return k;
}

void check(bool ok) {
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    const std::uint8_t mode = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::string name = "tokend:fuzz";
    if (mode % 2 == 0) {
        const auto r = st::unseal_entry(keys(), name, rest);
        check(r.entry.has_value() != !r.problem.empty());
        check(!r.entry.has_value());
        return 0;
    }
    // Tokens come from upstream's parsed JSON: valid UTF-8 (JWTs are ASCII), as sealing requires.
    std::string token = "tok-";
    for (char ch : rest)
        token += static_cast<char>(0x21 + static_cast<unsigned char>(ch) % 94);
    using namespace std::chrono_literals;
    const st::shared_entry entry{token, token.substr(0, token.size() / 2),
                                 st::wall_clock::time_point(1'700'000'000'000ms),
                                 st::wall_clock::time_point(1'700'000'003'000ms)};
    const std::string sealed = st::seal_entry(keys(), name, entry);
    const auto good = st::unseal_entry(keys(), name, sealed);
    check(good.entry.has_value() && *good.entry == entry);
    check(!st::unseal_entry(keys(), name + "x", sealed).entry);
    std::string altered = sealed;
    const std::size_t at =
        (rest.empty() ? 0 : static_cast<std::uint8_t>(rest[0])) * 131 % sealed.size();
    const auto flip = static_cast<char>((mode >> 1) | 1);
    altered[at] = static_cast<char>(altered[at] ^ flip);
    const auto bad = st::unseal_entry(keys(), name, altered);
    check(!bad.entry.has_value() && !bad.problem.empty());
    check(bad.problem.find(token) == std::string::npos);
    return 0;
}
