// Who may read a profile's token (PRODUCT.md §9): the access rules of the configuration, the
// caller as the kernel identified it, and the decision. Pure, apart from system_accounts(), which
// asks the system's user and group database (NSS) and is used when the configuration is loaded.
//
// - A profile without a rule (`allow` absent) may be read by anyone who can connect.
// - With a rule, a caller may read it when its uid is one of `uids`, or its primary or a
//   supplementary group is one of `gids`. A caller the kernel could not identify matches no rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synergy_tokend {

struct access_rule {
    std::vector<std::uint32_t> uids;
    std::vector<std::uint32_t> gids;
    friend bool operator==(const access_rule&, const access_rule&) = default;
};

enum class identified_by { peer_credentials, socket_diagnostics, none };
const char* to_string(identified_by how); // "SO_PEERCRED", "sock_diag", "none"

struct caller_identity {
    identified_by how = identified_by::none;
    std::uint32_t uid = 0;
    std::optional<std::uint32_t> gid; // SO_PEERCRED's; over TCP the uid's primary group, if any
    std::optional<std::int64_t> pid;
    std::vector<std::uint32_t> groups; // supplementary groups of the uid, the primary one included
    std::string user;                  // the uid's name, "" when it has none
    std::string listener;       // "unix /run/synergy-tokend/tokend.sock", "tcp 127.0.0.1:8731"
    std::string unknown_reason; // why how == none
    bool known() const { return how != identified_by::none; }
};

bool may_read(const std::optional<access_rule>& rule, const caller_identity& caller);

// "uid 1001 (bob)", "uid 1001", or "an unidentified caller".
std::string describe_caller(const caller_identity& caller);

// The 403 message: caller uid 1001 (bob) may not read profile "stats".
std::string refusal_message(const caller_identity& caller, std::string_view profile);

// Looks up user and group names for the configuration's rules.
class account_lookup {
public:
    virtual ~account_lookup() = default;
    virtual std::optional<std::uint32_t> uid_of(const std::string& user) const = 0;
    virtual std::optional<std::uint32_t> gid_of(const std::string& group) const = 0;
};

// The system's database (getpwnam_r, getgrnam_r).
const account_lookup& system_accounts();

} // namespace synergy_tokend
