// Who is on the other end of a local connection, from the kernel (PRODUCT.md §9): once per
// connection, when a request first needs it.
//
// - Unix socket: SO_PEERCRED (uid, gid, pid of the process that connected).
// - TCP: the uid owning the peer's socket, asked of the kernel's socket diagnostics
//   (NETLINK_SOCK_DIAG, inet_diag) by the connection's two addresses and ports, as `ss -e` shows
//   it. The kernel gives no pid there. A peer it does not know (another network namespace, a
//   socket already gone) or a failed query leaves the caller unknown, with the reason.
// - The uid's name and supplementary groups come from account_cache: looked up once per uid
//   (getpwuid_r, getgrouplist) and kept until clear() (SIGHUP), so the event loop asks the user
//   database at most once per uid between reloads.
//
// All functions are synchronous system calls of a few microseconds; call them on the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "synergy_tokend/access.hpp"

namespace synergy_tokend {

class account_cache {
public:
    struct account {
        std::string name;                         // "" when the uid has no entry
        std::optional<std::uint32_t> primary_gid; // from the entry
        std::vector<std::uint32_t> groups;        // the supplementary ones and the primary one
    };
    // The uid's name and groups; `gid` (SO_PEERCRED's) counts as its primary group when given.
    const account& lookup(std::uint32_t uid, std::optional<std::uint32_t> gid);
    void clear() { accounts_.clear(); }

private:
    std::map<std::pair<std::uint32_t, std::optional<std::uint32_t>>, account> accounts_;
};

// One connection's caller, asked of the kernel when a request first needs it (a profile with a
// rule, /v1/whoami) and kept for the connection's life: requests over keep-alive cost nothing.
class lazy_caller {
public:
    explicit lazy_caller(std::function<caller_identity()> identify)
        : identify_(std::move(identify)) {}
    const caller_identity& get() {
        if (!identity_)
            identity_ = identify_();
        return *identity_;
    }

private:
    std::function<caller_identity()> identify_;
    std::optional<caller_identity> identity_;
};

// The peer of the connected Unix socket `fd`.
caller_identity identify_unix_peer(int fd, account_cache& accounts);

// The peer of the accepted TCP connection with these endpoints (ours is `local`).
caller_identity identify_tcp_peer(const boost::asio::ip::tcp::endpoint& local,
                                  const boost::asio::ip::tcp::endpoint& remote,
                                  account_cache& accounts);

} // namespace synergy_tokend
