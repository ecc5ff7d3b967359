// The upstream client's figures, as plain values: upstream_client counts them, the renderers of
// /status and /metrics (metrics.hpp) take them without depending on the client. Pure.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace synergy_tokend {

// What the upstream client counts (upstream_client::stats(), latency()).
struct upstream_stats {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0; // network/TLS/timeout failures (not HTTP error statuses)
    std::uint64_t connects = 0;
    std::uint64_t tls_handshakes = 0;
    std::uint64_t resent = 0; // requests sent again after a dead kept-alive connection
    std::uint64_t discarded_connections = 0; // idle ones found closed, or with stray bytes
    std::size_t open_connections = 0;
    std::size_t idle_connections = 0;
    std::chrono::microseconds last_latency{0};
};

// Cumulative histogram of durations, Prometheus style (upper bounds in seconds).
struct latency_histogram {
    static constexpr std::array<double, 12> bounds_s{0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                     0.5,   1.0,  2.5,   5.0,  10.0, 30.0};
    std::array<std::uint64_t, bounds_s.size()> bucket_counts{}; // not cumulative; +Inf = count
    std::uint64_t count = 0;
    double sum_s = 0;
    void observe(std::chrono::microseconds d);
};

} // namespace synergy_tokend
