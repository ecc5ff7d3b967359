#include "synergy_tokend/sealed_entry.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <boost/json.hpp>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

namespace synergy_tokend {

namespace json = boost::json;

namespace {

constexpr unsigned char format_version = 0x01;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::size_t max_sealed_size = 64 * 1024;
constexpr std::string_view hkdf_salt = "synergy-tokend shared cache v1";

struct kdf_free {
    void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

std::array<unsigned char, 32> hkdf(std::string_view ikm, std::string_view info) {
    std::unique_ptr<EVP_KDF, kdf_free> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    if (!kdf)
        throw std::runtime_error("OpenSSL has no HKDF");
    std::unique_ptr<EVP_KDF_CTX, kdf_free> ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx)
        throw std::runtime_error("HKDF: out of memory");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                          ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(hkdf_salt.data()),
                                          hkdf_salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                          info.size()),
        OSSL_PARAM_construct_end(),
    };
    std::array<unsigned char, 32> out{};
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
        throw std::runtime_error("HKDF-SHA256 failed");
    return out;
}

std::int64_t ms_since_epoch(wall_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

wall_clock::time_point from_ms(std::int64_t ms) {
    return wall_clock::time_point(
        std::chrono::duration_cast<wall_clock::duration>(std::chrono::milliseconds(ms)));
}

std::optional<std::int64_t> integer_member(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr)
        return std::nullopt;
    if (v->is_int64())
        return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
}

} // namespace

shared_keys derive_shared_keys(std::string_view identity_token) {
    shared_keys k;
    k.seal = hkdf(identity_token, "entry sealing: AES-256-GCM");
    k.name = hkdf(identity_token, "entry names: HMAC-SHA256");
    return k;
}

std::string profile_key(std::string_view product, std::string_view customer_id,
                        const std::optional<std::vector<std::string>>& scopes) {
    // Every field length-prefixed: no choice of bytes in one field (a NUL, a separator) can make
    // two different profiles share a key.
    std::string out;
    auto field = [&out](std::string_view v) {
        out += std::to_string(v.size());
        out += ':';
        out += v;
    };
    field(product);
    field(customer_id);
    if (!scopes) {
        out += '*'; // all the user may have; a list, even empty, starts with its count
        return out;
    }
    std::vector<std::string> sorted = *scopes;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    out += '#' + std::to_string(sorted.size()) + ';';
    for (const auto& sc : sorted)
        field(sc);
    return out;
}

std::string entry_key_name(const shared_keys& keys, std::string_view key_prefix,
                           std::string_view profile_key) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), keys.name.data(), static_cast<int>(keys.name.size()),
             reinterpret_cast<const unsigned char*>(profile_key.data()), profile_key.size(), mac,
             &mac_len) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(key_prefix);
    for (unsigned i = 0; i < mac_len; ++i) {
        out += digits[mac[i] >> 4];
        out += digits[mac[i] & 0xf];
    }
    return out;
}

std::string seal_entry(const shared_keys& keys, std::string_view key_name,
                       const shared_entry& entry) {
    const std::string plain = json::serialize(json::object{
        {"token", entry.token},
        {"type", entry.token_type},
        {"iat_ms", ms_since_epoch(entry.issued_at)},
        {"exp_ms", ms_since_epoch(entry.expires_at)},
    });
    std::string out(1 + nonce_size + plain.size() + tag_size, '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    bytes[0] = format_version;
    unsigned char* nonce = bytes + 1;
    unsigned char* cipher = nonce + nonce_size;
    unsigned char* tag = cipher + plain.size();
    if (RAND_bytes(nonce, static_cast<int>(nonce_size)) != 1)
        throw std::runtime_error("no random bytes for a nonce");
    std::unique_ptr<EVP_CIPHER_CTX, kdf_free> ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, keys.seal.data(), nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(key_name.data()),
                          static_cast<int>(key_name.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), cipher, &len,
                          reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size), tag) != 1)
        throw std::runtime_error("AES-256-GCM sealing failed");
    return out;
}

unseal_result unseal_entry(const shared_keys& keys, std::string_view key_name,
                           std::string_view sealed) {
    unseal_result out;
    if (sealed.size() < 1 + nonce_size + tag_size || sealed.size() > max_sealed_size) {
        out.problem = "entry of " + std::to_string(sealed.size()) + " bytes: not a sealed entry";
        return out;
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
    if (bytes[0] != format_version) {
        out.problem = "entry of unknown format " + std::to_string(bytes[0]);
        return out;
    }
    const unsigned char* nonce = bytes + 1;
    const unsigned char* cipher = nonce + nonce_size;
    const std::size_t cipher_size = sealed.size() - 1 - nonce_size - tag_size;
    const unsigned char* tag = cipher + cipher_size;
    std::string plain(cipher_size, '\0');
    std::unique_ptr<EVP_CIPHER_CTX, kdf_free> ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    int final_len = 0;
    const bool opened =
        ctx &&
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, keys.seal.data(), nonce) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(key_name.data()),
                          static_cast<int>(key_name.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, cipher,
                          static_cast<int>(cipher_size)) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size),
                            const_cast<unsigned char*>(tag)) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                            &final_len) == 1;
    if (!opened) {
        out.problem = "entry failed authentication (altered, or sealed under another identity "
                      "token or key name)";
        return out;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(plain, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    const json::string* token =
        o ? (o->if_contains("token") ? o->at("token").if_string() : nullptr) : nullptr;
    const json::string* type =
        o ? (o->if_contains("type") ? o->at("type").if_string() : nullptr) : nullptr;
    const auto iat = o ? integer_member(*o, "iat_ms") : std::nullopt;
    const auto exp = o ? integer_member(*o, "exp_ms") : std::nullopt;
    // Authenticated, yet not what this version writes: a newer writer, or a bug.
    if (token == nullptr || token->empty() || type == nullptr || !iat || !exp || *exp <= *iat ||
        *iat < 0 || *exp > std::int64_t{1} << 50) {
        out.problem = "authenticated entry without the expected fields";
        return out;
    }
    out.entry = shared_entry{std::string(*token), std::string(*type), from_ms(*iat), from_ms(*exp)};
    return out;
}

} // namespace synergy_tokend
