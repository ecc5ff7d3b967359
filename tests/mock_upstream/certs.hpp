// Throw-away PKI for the mock, made with the OpenSSL C API at every start:
//  - a CA (EC P-256, self-signed, CA:TRUE) that clients are told to trust (ca.pem);
//  - a server certificate signed by it for DNS:localhost, IP:127.0.0.1 and IP:::1
//    (server.pem, key in server-key.pem, mode 0600);
//  - a second, unrelated CA (untrusted-ca.pem), for tests of a failing verification.
// Every certificate is valid from one hour ago to one day from now.
#pragma once

#include <filesystem>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace synergy_auth_mock {

struct generated_certs {
    std::filesystem::path ca_file;           // absolute
    std::filesystem::path untrusted_ca_file; // absolute
    std::filesystem::path server_cert_file;
    std::filesystem::path server_key_file;
    std::string server_cert_pem;
    std::string server_key_pem;
};

// Generates the certificates and writes them into dir (created if missing); an empty dir means a
// fresh mkdtemp directory under $TMPDIR or /tmp. Files are left in place at exit, so that a test
// may still read them after stopping the mock. Throws std::runtime_error naming the failing step
// (with OpenSSL's reason) or the file that could not be written.
generated_certs generate_certs(std::filesystem::path dir);

// The certificates an earlier generate_certs(dir) left in dir, read back, so that a mock restarted
// on the same port (--reuse-certs) is trusted by clients that trust the first one's ca.pem. Falls
// back to generate_certs(dir) when any of the four files is missing. Throws as generate_certs.
generated_certs reuse_or_generate_certs(std::filesystem::path dir);

// A server context for the generated certificate: TLS 1.2 or later.
boost::asio::ssl::context make_server_tls_context(const generated_certs& certs);

} // namespace synergy_auth_mock
