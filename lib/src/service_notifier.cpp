#include "synergy_tokend/service_notifier.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace synergy_tokend {

service_notifier::service_notifier() {
    if (const char* usec = std::getenv("WATCHDOG_USEC"); usec && *usec) {
        const char* pid = std::getenv("WATCHDOG_PID");
        const bool for_us = pid == nullptr || *pid == '\0' || std::atol(pid) == ::getpid();
        const long long value = std::atoll(usec);
        if (for_us && value > 0)
            watchdog_ = std::chrono::microseconds(value / 2);
    }
    const char* socket_path = std::getenv("NOTIFY_SOCKET");
    if (socket_path == nullptr || (socket_path[0] != '/' && socket_path[0] != '@') ||
        std::strlen(socket_path) >= sizeof(sockaddr_un::sun_path))
        return;
    address_ = socket_path;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

service_notifier::~service_notifier() {
    if (fd_ >= 0)
        ::close(fd_);
}

void service_notifier::notify(std::string_view state) const {
    if (fd_ < 0)
        return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             len);
}

std::string service_notifier::monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long usec = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    return "MONOTONIC_USEC=" + std::to_string(usec);
}

} // namespace synergy_tokend
