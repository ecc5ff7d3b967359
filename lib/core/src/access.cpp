#include "synergy_tokend/access.hpp"

#include <algorithm>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace synergy_tokend {

const char* to_string(identified_by how) {
    switch (how) {
    case identified_by::peer_credentials:
        return "SO_PEERCRED";
    case identified_by::socket_diagnostics:
        return "sock_diag";
    case identified_by::none:
        break;
    }
    return "none";
}

bool may_read(const std::optional<access_rule>& rule, const caller_identity& caller) {
    if (!rule)
        return true;
    if (!caller.known())
        return false;
    const auto listed = [](const std::vector<std::uint32_t>& ids, std::uint32_t id) {
        return std::find(ids.begin(), ids.end(), id) != ids.end();
    };
    if (listed(rule->uids, caller.uid) || (caller.gid && listed(rule->gids, *caller.gid)))
        return true;
    return std::any_of(caller.groups.begin(), caller.groups.end(),
                       [&](std::uint32_t g) { return listed(rule->gids, g); });
}

std::string describe_caller(const caller_identity& caller) {
    if (!caller.known())
        return "an unidentified caller";
    std::string out = "uid " + std::to_string(caller.uid);
    if (!caller.user.empty())
        out += " (" + caller.user + ")";
    return out;
}

std::string refusal_message(const caller_identity& caller, std::string_view profile) {
    std::string out =
        caller.known() ? "caller " + describe_caller(caller) : describe_caller(caller);
    out += " may not read profile \"";
    out += profile;
    out += '"';
    if (!caller.known() && !caller.unknown_reason.empty())
        out += " (" + caller.unknown_reason + ")";
    return out;
}

namespace {

class system_account_lookup final : public account_lookup {
public:
    std::optional<std::uint32_t> uid_of(const std::string& user) const override {
        std::vector<char> buf(buffer_size(_SC_GETPW_R_SIZE_MAX));
        passwd pw{};
        passwd* found = nullptr;
        if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
            return std::nullopt;
        return found->pw_uid;
    }
    std::optional<std::uint32_t> gid_of(const std::string& group) const override {
        std::vector<char> buf(buffer_size(_SC_GETGR_R_SIZE_MAX));
        group_t gr{};
        group_t* found = nullptr;
        if (::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found)
            return std::nullopt;
        return found->gr_gid;
    }

private:
    using group_t = struct ::group;
    static std::size_t buffer_size(int name) {
        const long n = ::sysconf(name);
        return n > 0 ? static_cast<std::size_t>(n) * 4 : 64 * 1024;
    }
};

} // namespace

const account_lookup& system_accounts() {
    static const system_account_lookup instance;
    return instance;
}

} // namespace synergy_tokend
