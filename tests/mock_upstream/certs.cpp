#include "certs.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace synergy_auth_mock {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;

template <auto Free>
struct openssl_deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;

// Throws with OpenSSL's reason for the latest failure (and clears its error queue).
[[noreturn]] void fail(std::string_view step) {
    std::string message = "certificate generation: " + std::string(step) + " failed";
    if (const unsigned long code = ERR_get_error(); code != 0) {
        char reason[256];
        ERR_error_string_n(code, reason, sizeof reason);
        message += ": ";
        message += reason;
    }
    ERR_clear_error();
    throw std::runtime_error(message);
}

void check(int ok, std::string_view step) {
    if (ok <= 0)
        fail(step);
}

pkey_ptr make_p256_key() {
    pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
    if (!key)
        fail("EC P-256 key generation");
    return key;
}

struct extension {
    int nid;
    const char* value;
};

// A v3 certificate for subject_key named common_name, signed by issuer_key; issuer null means
// self-signed. Valid from an hour ago for a day.
x509_ptr make_certificate(const char* common_name, EVP_PKEY* subject_key, X509* issuer,
                          EVP_PKEY* issuer_key, const std::vector<extension>& extensions) {
    x509_ptr cert{X509_new()};
    if (!cert)
        fail("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

    bignum_ptr serial{BN_new()};
    if (!serial)
        fail("BN_new");
    check(BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
        fail("BN_to_ASN1_INTEGER");

    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) == nullptr)
        fail("X509_gmtime_adj");
    check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("synergy-auth-mock"),
                                     -1, -1, 0),
          "X509_NAME_add_entry_by_txt(O)");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name), -1, -1,
                                     0),
          "X509_NAME_add_entry_by_txt(CN)");
    check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name),
          "X509_set_issuer_name");

    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const extension& e : extensions) {
        extension_ptr ext{X509V3_EXT_conf_nid(nullptr, &context, e.nid, e.value)};
        if (!ext)
            fail(std::string("extension ") + OBJ_nid2sn(e.nid) + "=" + e.value);
        check(X509_add_ext(cert.get(), ext.get(), -1), "X509_add_ext");
    }

    check(X509_sign(cert.get(), issuer_key, EVP_sha256()), "X509_sign");
    return cert;
}

x509_ptr make_ca(const char* common_name, EVP_PKEY* key) {
    return make_certificate(common_name, key, nullptr, key,
                            {
                                {NID_basic_constraints, "critical,CA:TRUE"},
                                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                {NID_subject_key_identifier, "hash"},
                            });
}

std::string to_pem(X509* cert) {
    bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!bio)
        fail("BIO_new");
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(EVP_PKEY* key) {
    bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!bio)
        fail("BIO_new");
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
          "PEM_write_bio_PrivateKey");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

[[noreturn]] void fail_file(const fs::path& file, std::string_view what) {
    throw std::runtime_error(std::string(what) + " " + file.string() + ": " + std::strerror(errno));
}

void write_file(const fs::path& file, std::string_view content, mode_t mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        fail_file(file, "cannot create");
    // An existing file keeps its old mode through O_CREAT.
    if (::fchmod(fd, mode) != 0) {
        ::close(fd);
        fail_file(file, "cannot chmod");
    }
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ::close(fd);
            fail_file(file, "cannot write");
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::close(fd) != 0)
        fail_file(file, "cannot close");
}

fs::path make_directory(fs::path dir) {
    if (dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern =
            (tmp && *tmp ? fs::path(tmp) : fs::path("/tmp")) / "synergy-auth-mock-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr)
            fail_file(pattern, "cannot create directory");
        dir = pattern;
    } else {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw std::runtime_error("cannot create directory " + dir.string() + ": " +
                                     ec.message());
    }
    return fs::absolute(dir);
}

} // namespace

generated_certs generate_certs(fs::path dir) {
    dir = make_directory(std::move(dir));

    const pkey_ptr ca_key = make_p256_key();
    const x509_ptr ca = make_ca("synergy-auth-mock test CA", ca_key.get());

    const pkey_ptr server_key = make_p256_key();
    const x509_ptr server =
        make_certificate("localhost", server_key.get(), ca.get(), ca_key.get(),
                         {
                             {NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature"},
                             {NID_ext_key_usage, "serverAuth"},
                             {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"},
                         });

    const pkey_ptr untrusted_key = make_p256_key();
    const x509_ptr untrusted_ca = make_ca("synergy-auth-mock untrusted CA", untrusted_key.get());

    generated_certs certs;
    certs.ca_file = dir / "ca.pem";
    certs.untrusted_ca_file = dir / "untrusted-ca.pem";
    certs.server_cert_file = dir / "server.pem";
    certs.server_key_file = dir / "server-key.pem";
    certs.server_cert_pem = to_pem(server.get());
    certs.server_key_pem = to_pem(server_key.get());

    write_file(certs.server_key_file, certs.server_key_pem, 0600);
    write_file(certs.server_cert_file, certs.server_cert_pem, 0644);
    write_file(certs.untrusted_ca_file, to_pem(untrusted_ca.get()), 0644);
    // Last: a test that sees ca.pem may rely on the others being complete.
    write_file(certs.ca_file, to_pem(ca.get()), 0644);
    return certs;
}

generated_certs reuse_or_generate_certs(fs::path dir) {
    if (dir.empty())
        return generate_certs(std::move(dir));
    generated_certs certs;
    const fs::path absolute = fs::absolute(dir);
    certs.ca_file = absolute / "ca.pem";
    certs.untrusted_ca_file = absolute / "untrusted-ca.pem";
    certs.server_cert_file = absolute / "server.pem";
    certs.server_key_file = absolute / "server-key.pem";
    auto read = [](const fs::path& file) -> std::optional<std::string> {
        std::ifstream in(file, std::ios::binary);
        if (!in)
            return std::nullopt;
        std::ostringstream content;
        content << in.rdbuf();
        return content.str();
    };
    for (const fs::path* file : {&certs.ca_file, &certs.untrusted_ca_file})
        if (!read(*file))
            return generate_certs(std::move(dir));
    auto cert = read(certs.server_cert_file);
    auto key = read(certs.server_key_file);
    if (!cert || !key || cert->empty() || key->empty())
        return generate_certs(std::move(dir));
    certs.server_cert_pem = std::move(*cert);
    certs.server_key_pem = std::move(*key);
    return certs;
}

ssl::context make_server_tls_context(const generated_certs& certs) {
    ssl::context context{ssl::context::tls_server};
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::single_dh_use);
    if (SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1)
        fail("SSL_CTX_set_min_proto_version");
    context.use_certificate_chain(boost::asio::buffer(certs.server_cert_pem));
    context.use_private_key(boost::asio::buffer(certs.server_key_pem), ssl::context::pem);
    return context;
}

} // namespace synergy_auth_mock
