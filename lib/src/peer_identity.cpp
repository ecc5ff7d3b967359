#include "synergy_tokend/peer_identity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace synergy_tokend {

namespace {

// Closes a descriptor on every path out.
struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0)
            ::close(fd);
    }
};

std::vector<std::uint32_t> groups_of(const std::string& name, std::uint32_t gid) {
    if (name.empty())
        return {gid};
    int n = 32;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (::getgrouplist(name.c_str(), gid, groups.data(), &n) < 0) {
        groups.resize(static_cast<std::size_t>(n)); // n now says how many there are
        if (::getgrouplist(name.c_str(), gid, groups.data(), &n) < 0)
            return {gid};
    }
    groups.resize(static_cast<std::size_t>(n));
    return {groups.begin(), groups.end()};
}

void fill_account(caller_identity& c, account_cache& accounts) {
    const auto& a = accounts.lookup(c.uid, c.gid);
    c.user = a.name;
    c.groups = a.groups;
    if (!c.gid)
        c.gid = a.primary_gid;
}

} // namespace

const account_cache::account& account_cache::lookup(std::uint32_t uid,
                                                    std::optional<std::uint32_t> gid) {
    const auto key = std::make_pair(uid, gid);
    auto it = accounts_.find(key);
    if (it == accounts_.end()) {
        account a;
        std::vector<char> buf(16 * 1024);
        passwd pw{};
        passwd* found = nullptr;
        if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
            a.name = found->pw_name;
            a.primary_gid = found->pw_gid;
        }
        const auto group = gid ? gid : a.primary_gid;
        if (group)
            a.groups = groups_of(a.name, *group);
        it = accounts_.emplace(key, std::move(a)).first;
    }
    return it->second;
}

caller_identity identify_unix_peer(int fd, account_cache& accounts) {
    caller_identity c;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        c.unknown_reason = std::string("SO_PEERCRED: ") + std::strerror(errno);
        return c;
    }
    c.how = identified_by::peer_credentials;
    c.uid = cred.uid;
    c.gid = cred.gid;
    if (cred.pid > 0)
        c.pid = cred.pid;
    fill_account(c, accounts);
    // The groups the connecting process held (SO_PEERGROUPS, Linux 4.13), rather than the user
    // database's, when the kernel gives them: a process that dropped a group has dropped it.
    std::vector<gid_t> groups(64);
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    int got = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size);
    if (got != 0 && errno == ERANGE) {
        groups.resize(size / sizeof(gid_t));
        got = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size);
    }
    if (got == 0) {
        groups.resize(size / sizeof(gid_t));
        c.groups.assign(groups.begin(), groups.end());
        if (std::find(c.groups.begin(), c.groups.end(), cred.gid) == c.groups.end())
            c.groups.push_back(cred.gid);
    }
    return c;
}

caller_identity identify_tcp_peer(const boost::asio::ip::tcp::endpoint& local,
                                  const boost::asio::ip::tcp::endpoint& remote,
                                  account_cache& accounts) {
    caller_identity c;
    const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        c.unknown_reason = std::string("socket diagnostics unavailable: ") + std::strerror(errno);
        return c;
    }
    fd_guard guard{nl};
    // A reply takes microseconds; a kernel that does not answer must not hold the event loop.
    const timeval limit{0, 100 * 1000};
    ::setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);

    struct {
        nlmsghdr header;
        inet_diag_req_v2 req;
    } msg{};
    msg.header.nlmsg_len = sizeof msg;
    msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.header.nlmsg_flags = NLM_F_REQUEST;
    msg.header.nlmsg_seq = 1;
    const bool v6 = remote.address().is_v6();
    msg.req.sdiag_family = v6 ? AF_INET6 : AF_INET;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = ~0u;
    // The peer's socket: its source is the remote end of ours, its destination our local end.
    msg.req.id.idiag_sport = htons(remote.port());
    msg.req.id.idiag_dport = htons(local.port());
    msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (v6) {
        msg.req.id.idiag_if = remote.address().to_v6().scope_id(); // link-local peers
        const auto src = remote.address().to_v6().to_bytes();
        const auto dst = local.address().to_v6().to_bytes();
        std::memcpy(msg.req.id.idiag_src, src.data(), src.size());
        std::memcpy(msg.req.id.idiag_dst, dst.data(), dst.size());
    } else {
        const auto src = remote.address().to_v4().to_bytes();
        const auto dst = local.address().to_v4().to_bytes();
        std::memcpy(msg.req.id.idiag_src, src.data(), src.size());
        std::memcpy(msg.req.id.idiag_dst, dst.data(), dst.size());
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(nl, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
        0) {
        c.unknown_reason = std::string("socket diagnostics query failed: ") + std::strerror(errno);
        return c;
    }
    alignas(nlmsghdr) char buf[8192];
    const ssize_t n = ::recv(nl, buf, sizeof buf, 0);
    if (n < 0) {
        c.unknown_reason =
            std::string("socket diagnostics gave no answer: ") + std::strerror(errno);
        return c;
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            c.unknown_reason =
                err->error == -ENOENT
                    ? "the kernel knows no such peer socket (another network "
                      "namespace, or already closed)"
                    : std::string("socket diagnostics: ") + std::strerror(-err->error);
            return c;
        }
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
            continue;
        const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        if (m->id.idiag_sport != msg.req.id.idiag_sport ||
            m->id.idiag_dport != msg.req.id.idiag_dport)
            continue;
        // A socket its process has closed (an orphan, FIN-WAIT) has no inode and reads as
        // uid 0 on many kernels: that names no one.
        if (m->idiag_inode == 0) {
            c.unknown_reason = "the peer has already closed its socket";
            return c;
        }
        c.how = identified_by::socket_diagnostics;
        c.uid = m->idiag_uid;
        // The answer has no gid of the peer's process: fill_account takes the uid's primary one.
        fill_account(c, accounts);
        return c;
    }
    c.unknown_reason = "socket diagnostics named no peer socket";
    return c;
}

} // namespace synergy_tokend
