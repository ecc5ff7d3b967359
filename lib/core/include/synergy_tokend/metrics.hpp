// What /status and /metrics report (PRODUCT.md §5), and their rendering. Rendering is pure: the
// caller gathers a snapshot from the components that own the figures.
//
// Neither output ever contains a token or an identity token: profiles are rendered from
// profile_view, which holds none.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "synergy_tokend/clock.hpp"

namespace synergy_tokend {

struct profile_view;

// The upstream client's figures.
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

// Local requests by route label and status code, and /v1/info proxy outcomes.
struct request_counters {
    std::map<std::pair<std::string, unsigned>, std::uint64_t> by_route_code;
    std::map<std::string, std::uint64_t> proxy_outcomes; // ok, upstream_error, unreachable, ...
};

struct status_snapshot {
    std::string version;
    wall_clock::time_point started_at;
    wall_clock::time_point now;
    std::string upstream_base_url;
    upstream_stats upstream;
    latency_histogram upstream_latency;
    std::vector<profile_view> profiles;
    std::size_t on_demand_entries = 0;
    std::vector<std::string> listeners;
    std::size_t open_connections = 0;
    const request_counters* requests = nullptr;
};

// GET /status's data object, serialized JSON.
std::string render_status_json(const status_snapshot& s);

// GET /metrics in the Prometheus text exposition format (version 0.0.4).
std::string render_metrics(const status_snapshot& s);

} // namespace synergy_tokend
