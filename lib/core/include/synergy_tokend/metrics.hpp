// What /status and /metrics report (PRODUCT.md §5), and their rendering. Rendering is pure: the
// caller gathers a snapshot from the components that own the figures.
//
// Neither output ever contains a token or an identity token: profiles are rendered from
// profile_view, which holds none.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/profile_view.hpp"
#include "synergy_tokend/shared_cache_policy.hpp"
#include "synergy_tokend/upstream_stats.hpp"

namespace synergy_tokend {

// Local requests by route label and status code, and /v1/info proxy outcomes.
struct request_counters {
    std::map<std::pair<std::string, unsigned>, std::uint64_t> by_route_code;
    std::map<std::string, std::uint64_t> proxy_outcomes; // ok, upstream_error, unreachable, ...
    std::map<std::string, std::uint64_t> access_denied;  // refused callers, by profile (§9)
};

// One product API route as /status and /metrics show it (PRODUCT.md §11): counts, no header value.
struct route_view {
    std::string name; // the prefix without its slashes
    std::string upstream;
    std::string profile;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0; // answered by the daemon (502/503/504), not by upstream
    std::uint64_t retried = 0;
    std::chrono::microseconds last_latency{0};
    // Replies cut short after their header was passed on (upstream closed, broke or idled).
    std::uint64_t truncated = 0;
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
    std::vector<route_view> routes;
    std::vector<std::string> listeners;
    std::size_t open_connections = 0;
    std::size_t held_requests = 0; // change waits held (GET /v1/tokens/{name}?wait=)
    std::optional<shared_cache_view> shared_cache; // set when shared_cache is configured
    // File sinks by profile: files written, writes or removals failed.
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> sink_writes;
    const request_counters* requests = nullptr;
};

// GET /status's data object, serialized JSON.
std::string render_status_json(const status_snapshot& s);

// GET /metrics in the Prometheus text exposition format (version 0.0.4).
std::string render_metrics(const status_snapshot& s);

} // namespace synergy_tokend
