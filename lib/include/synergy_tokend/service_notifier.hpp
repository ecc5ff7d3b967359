// systemd's sd_notify datagram protocol, without libsystemd: READY=1, STATUS=, WATCHDOG=1,
// RELOADING=1 (+ MONOTONIC_USEC=), STOPPING=1 are sent to $NOTIFY_SOCKET (a path, or an abstract
// socket name starting with '@'). Without NOTIFY_SOCKET every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace synergy_tokend {

class service_notifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
    service_notifier();
    ~service_notifier();
    service_notifier(const service_notifier&) = delete;
    service_notifier& operator=(const service_notifier&) = delete;

    bool enabled() const { return fd_ >= 0; }

    // Sends one datagram of newline-separated assignments; failures are ignored (systemd may
    // have gone away; the daemon keeps serving).
    void notify(std::string_view state) const;

    // Half of WATCHDOG_USEC when the watchdog is enabled for this process.
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

    // "MONOTONIC_USEC=<now>", as RELOADING=1 needs.
    static std::string monotonic_usec();

private:
    int fd_ = -1;
    std::string address_;
    std::optional<std::chrono::microseconds> watchdog_;
};

} // namespace synergy_tokend
