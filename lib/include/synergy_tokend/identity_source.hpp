// The user identity token, from a file or an environment variable (PRODUCT.md §3 identity, §4).
//
// A file is re-read when its mtime (or size) changed since the last read, and always when
// `force_reread` is set (SIGHUP, or after upstream answered 401/403). A relative file name is
// looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=), then in the configuration
// file's directory (identity_config::base_dir). A credential of white space only counts as none:
// the shipped unit sets SetCredential=identity-token:\n as LoadCredential='s fallback, so that the
// service starts while the identity token is not in place yet. Surrounding whitespace (a trailing
// newline) is stripped.
//
// Errors name the file or variable and the reason, never the token's content: "identity token
// file /etc/synergy-tokend/identity-token missing" when it does not exist.
#pragma once

#include <ctime>
#include <string>

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

struct identity_read {
    std::string token; // empty on error
    std::string error; // empty on success
    bool ok() const { return error.empty(); }
};

class identity_source {
public:
    explicit identity_source(identity_config cfg);

    // The current identity token. Synchronous (a small local file); call from the event loop.
    identity_read get(bool force_reread = false);

    // "file /etc/synergy-tokend/identity-token" or "environment variable X", for logs.
    std::string describe() const;

private:
    std::string resolve_path() const;

    identity_config cfg_;
    identity_read cached_;
    std::string cached_path_;
    timespec cached_mtime_{};
    long long cached_size_ = -1;
    bool loaded_ = false;
};

} // namespace synergy_tokend
