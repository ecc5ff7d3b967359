#include "synergy_tokend/sealed_entry.hpp"

#include <string>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;
using namespace std::chrono_literals;

namespace {

st::shared_entry sample() {
    const auto iat = st::wall_clock::time_point(1'800'000'000'000ms);
    return {"eyJhbGciOi.secret-token.sig", "bearer", iat, iat + 3600s};
}

} // namespace

BOOST_AUTO_TEST_SUITE(sealed_entry)

BOOST_AUTO_TEST_CASE(round_trip_and_nothing_in_the_clear) {
    const auto keys = st::derive_shared_keys("identity-A");
    const std::string name =
        st::entry_key_name(keys, "tokend:", st::profile_key("synergy-stats", "345", std::nullopt));
    BOOST_TEST(name.size() == 7u + 64u);
    BOOST_TEST(name.rfind("tokend:", 0) == 0u);
    BOOST_TEST(name.find("synergy") == std::string::npos);
    BOOST_TEST(name.find("345") == std::string::npos);

    const std::string sealed = st::seal_entry(keys, name, sample());
    BOOST_TEST(sealed.find("secret-token") == std::string::npos);
    BOOST_TEST(sealed.find("bearer") == std::string::npos);
    const auto r = st::unseal_entry(keys, name, sealed);
    BOOST_TEST_REQUIRE(r.entry.has_value(), r.problem);
    BOOST_TEST((*r.entry == sample()));
    // A fresh nonce every time.
    BOOST_TEST(st::seal_entry(keys, name, sample()) != sealed);
}

BOOST_AUTO_TEST_CASE(every_one_byte_change_fails_authentication) {
    const auto keys = st::derive_shared_keys("identity-A");
    const std::string name = st::entry_key_name(keys, "p:", "k");
    const std::string sealed = st::seal_entry(keys, name, sample());
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        std::string altered = sealed;
        altered[i] = static_cast<char>(altered[i] ^ 0x01);
        const auto r = st::unseal_entry(keys, name, altered);
        BOOST_TEST_INFO("byte " << i);
        BOOST_TEST(!r.entry.has_value());
        BOOST_TEST(!r.problem.empty());
        BOOST_TEST(r.problem.find("secret") == std::string::npos);
    }
    BOOST_TEST(!st::unseal_entry(keys, name, sealed.substr(0, sealed.size() - 1)).entry);
    BOOST_TEST(!st::unseal_entry(keys, name, sealed + "x").entry);
    BOOST_TEST(!st::unseal_entry(keys, name, "").entry);
    // The key name is associated data: the same bytes under another name are refused.
    BOOST_TEST(!st::unseal_entry(keys, name + "x", sealed).entry);
}

BOOST_AUTO_TEST_CASE(another_identity_token_can_neither_find_read_nor_forge) {
    const auto a = st::derive_shared_keys("identity-A");
    const auto b = st::derive_shared_keys("identity-B");
    BOOST_TEST((a.seal != b.seal));
    BOOST_TEST((a.seal != a.name));
    const std::string pk = st::profile_key("synergy-stats", "345", std::vector<std::string>{"x"});
    const std::string name_a = st::entry_key_name(a, "tokend:", pk);
    const std::string name_b = st::entry_key_name(b, "tokend:", pk);
    BOOST_TEST(name_a != name_b);
    const std::string sealed_a = st::seal_entry(a, name_a, sample());
    BOOST_TEST(!st::unseal_entry(b, name_a, sealed_a).entry);
    // B's entry written under A's name: A refuses it.
    BOOST_TEST(!st::unseal_entry(a, name_a, st::seal_entry(b, name_a, sample())).entry);
}

BOOST_AUTO_TEST_CASE(profile_keys_are_canonical) {
    using v = std::vector<std::string>;
    BOOST_TEST(st::profile_key("p", "1", v{"b", "a", "a"}) ==
               st::profile_key("p", "1", v{"a", "b"}));
    BOOST_TEST(st::profile_key("p", "1", std::nullopt) != st::profile_key("p", "1", v{}));
    BOOST_TEST(st::profile_key("p1", "", std::nullopt) != st::profile_key("p", "1", std::nullopt));
    // Bytes inside a field cannot forge another profile's key.
    using namespace std::string_literals;
    BOOST_TEST(st::profile_key("a\0b"s, "c", std::nullopt) !=
               st::profile_key("a", "b\0c"s, std::nullopt));
    BOOST_TEST(st::profile_key("p", "1", v{"x\0y"s}) != st::profile_key("p", "1", v{"x", "y"}));
    BOOST_TEST(st::profile_key("p", "1", v{"*"}) != st::profile_key("p", "1", std::nullopt));
}

BOOST_AUTO_TEST_SUITE_END()
