#include "synergy_tokend/metrics.hpp"

#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/profile_view.hpp"

namespace synergy_tokend {

namespace json = boost::json;

namespace {

json::value time_or_null(const std::optional<wall_clock::time_point>& t) {
    if (!t)
        return nullptr;
    return json::string(format_rfc3339(*t));
}

double epoch_seconds(wall_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A label value: backslash, double quote and newline escaped.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// The shortest text that reads back as `v`: le="0.1", not le="0.10000000000000001".
std::string number(double v) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

} // namespace

std::string render_status_json(const status_snapshot& s) {
    json::object data;
    data["version"] = s.version;
    data["startTime"] = format_rfc3339(s.started_at);
    data["uptime"] = std::chrono::floor<std::chrono::seconds>(s.now - s.started_at).count();

    json::object up;
    up["baseUrl"] = s.upstream_base_url;
    {
        up["openConnections"] = s.upstream.open_connections;
        up["idleConnections"] = s.upstream.idle_connections;
        up["requests"] = s.upstream.requests;
        up["errors"] = s.upstream.errors;
        up["tlsHandshakes"] = s.upstream.tls_handshakes;
        up["resent"] = s.upstream.resent;
        up["discardedConnections"] = s.upstream.discarded_connections;
        up["lastLatencyMs"] =
            std::chrono::duration<double, std::milli>(s.upstream.last_latency).count();
    }
    data["upstream"] = std::move(up);

    json::array profiles;
    for (const auto& p : s.profiles) {
        json::object o;
        o["name"] = p.cfg.name;
        o["product"] = p.cfg.product;
        o["customerId"] = p.cfg.customer_id;
        o["default"] = p.is_default;
        o["state"] = to_string(p.state);
        o["expiresAt"] = time_or_null(p.expires_at);
        o["refreshAt"] = time_or_null(p.refresh_at);
        o["lastRefreshAt"] = time_or_null(p.last_refresh_at);
        o["lastError"] = p.last_error.empty() ? json::value(nullptr) : json::value(p.last_error);
        o["consecutiveFailures"] = p.consecutive_failures;
        o["refreshCount"] = p.refresh_count;
        profiles.emplace_back(std::move(o));
    }
    data["profiles"] = std::move(profiles);
    data["onDemandEntries"] = s.on_demand_entries;
    json::array routes;
    for (const auto& r : s.routes)
        routes.emplace_back(json::object{{"name", r.name},
                                         {"upstream", r.upstream},
                                         {"profile", r.profile},
                                         {"requests", r.requests},
                                         {"errors", r.errors},
                                         {"retried", r.retried},
                                         {"truncated", r.truncated},
                                         {"lastLatencyMs", r.last_latency.count() / 1000.0}});
    data["routes"] = std::move(routes);
    if (s.shared_cache) {
        const shared_cache_view& c = *s.shared_cache;
        data["sharedCache"] = json::object{
            {"url", c.url},
            {"state", to_string(c.state)},
            {"lastError", c.last_error.empty() ? json::value(nullptr) : json::value(c.last_error)},
            {"hits", c.hits},
            {"leaseWins", c.lease_wins},
            {"fallbacks", c.fallbacks},
            {"errors", c.errors},
            {"rejectedEntries", c.rejected_entries},
            {"commands", c.commands}};
    } else {
        data["sharedCache"] = nullptr;
    }
    json::array listeners;
    for (const auto& l : s.listeners)
        listeners.emplace_back(l);
    data["listeners"] = std::move(listeners);
    data["openConnections"] = s.open_connections;
    return json::serialize(data);
}

std::string render_metrics(const status_snapshot& s) {
    std::string out;
    out.reserve(4096);

    header(out, "synergy_tokend_build_info", "gauge", "Version of the running daemon.");
    out += "synergy_tokend_build_info{version=\"" + label(s.version) + "\"} 1\n";
    header(out, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
    out += "process_start_time_seconds " + number(epoch_seconds(s.started_at)) + "\n";

    header(out, "synergy_tokend_token_expiry_timestamp_seconds", "gauge",
           "Expiry of each profile's current token (0: none).");
    for (const auto& p : s.profiles)
        out += "synergy_tokend_token_expiry_timestamp_seconds{profile=\"" + label(p.cfg.name) +
               "\"} " + number(p.expires_at ? epoch_seconds(*p.expires_at) : 0) + "\n";

    header(out, "synergy_tokend_token_state", "gauge", "1 for each profile's current state.");
    static const token_state states[] = {token_state::pending,    token_state::fresh,
                                         token_state::refreshing, token_state::stale,
                                         token_state::expired,    token_state::failed};
    for (const auto& p : s.profiles)
        for (token_state st : states)
            out += "synergy_tokend_token_state{profile=\"" + label(p.cfg.name) + "\",state=\"" +
                   to_string(st) + "\"} " + (p.state == st ? "1" : "0") + "\n";

    header(out, "synergy_tokend_token_refreshes_total", "counter",
           "Upstream token requests of each profile, by outcome.");
    for (const auto& p : s.profiles) {
        const std::string l = "{profile=\"" + label(p.cfg.name) + "\",outcome=\"";
        out += "synergy_tokend_token_refreshes_total" + l + "ok\"} " +
               std::to_string(p.refresh_count) + "\n";
        out += "synergy_tokend_token_refreshes_total" + l + "failed\"} " +
               std::to_string(p.failures_total) + "\n";
        out += "synergy_tokend_token_refreshes_total" + l + "rejected\"} " +
               std::to_string(p.rejections_total) + "\n";
    }

    if (!s.routes.empty()) {
        // One family per route figure: its header, then a sample per route.
        const auto per_route = [&](const char* name, const char* type, const char* help,
                                   const auto& value_of) {
            header(out, name, type, help);
            for (const auto& r : s.routes)
                out +=
                    std::string(name) + "{route=\"" + label(r.name) + "\"} " + value_of(r) + "\n";
        };
        per_route("synergy_tokend_route_requests_total", "counter",
                  "Requests forwarded by product API route.",
                  [](const auto& r) { return std::to_string(r.requests); });
        per_route("synergy_tokend_route_errors_total", "counter",
                  "Route requests the daemon answered itself (502, 503, 504).",
                  [](const auto& r) { return std::to_string(r.errors); });
        per_route("synergy_tokend_route_retries_total", "counter",
                  "Route requests retried once with a refreshed token.",
                  [](const auto& r) { return std::to_string(r.retried); });
        per_route("synergy_tokend_route_truncated_total", "counter",
                  "Route replies cut short after their header was passed on (upstream closed, "
                  "broke or idled longer than timeout_ms).",
                  [](const auto& r) { return std::to_string(r.truncated); });
        per_route("synergy_tokend_route_last_latency_seconds", "gauge",
                  "The last route exchange's duration.", [](const auto& r) {
                      return std::to_string(static_cast<double>(r.last_latency.count()) / 1e6);
                  });
    }

    if (s.shared_cache) {
        const shared_cache_view& c = *s.shared_cache;
        header(
            out, "synergy_tokend_shared_cache_up", "gauge",
            "1 while tokens are shared through Redis, 0 while falling back to per-host fetches.");
        out += std::string("synergy_tokend_shared_cache_up ") +
               (c.state == shared_state::sharing ? "1" : "0") + "\n";
        const std::pair<const char*, std::uint64_t> counts[] = {
            {"hits", c.hits},
            {"lease_wins", c.lease_wins},
            {"fallbacks", c.fallbacks},
            {"errors", c.errors},
            {"rejected_entries", c.rejected_entries},
            {"commands", c.commands}};
        static const char* const help[] = {
            "Token attempts answered by a shared entry, without an upstream call.",
            "Leases this host took to fetch for the fleet.",
            "Changes from sharing to per-host fetches.",
            "Redis commands that failed (connect, timeout, garbage, unexpected reply).",
            "Shared entries rejected: failed authentication or decoding.",
            "Redis commands sent."};
        for (std::size_t i = 0; i < std::size(counts); ++i) {
            const std::string name =
                std::string("synergy_tokend_shared_cache_") + counts[i].first + "_total";
            header(out, name.c_str(), "counter", help[i]);
            out += name + " " + std::to_string(counts[i].second) + "\n";
        }
    }

    header(out, "synergy_tokend_on_demand_entries", "gauge", "Tokens in the on-demand cache.");
    out += "synergy_tokend_on_demand_entries " + std::to_string(s.on_demand_entries) + "\n";

    {
        header(out, "synergy_tokend_upstream_request_duration_seconds", "histogram",
               "Duration of upstream requests (token and /info), failures included.");
        std::uint64_t cumulative = 0;
        const auto& h = s.upstream_latency;
        for (std::size_t i = 0; i < h.bounds_s.size(); ++i) {
            cumulative += h.bucket_counts[i];
            out += "synergy_tokend_upstream_request_duration_seconds_bucket{le=\"" +
                   number(h.bounds_s[i]) + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += "synergy_tokend_upstream_request_duration_seconds_bucket{le=\"+Inf\"} " +
               std::to_string(h.count) + "\n";
        out += "synergy_tokend_upstream_request_duration_seconds_sum " + number(h.sum_s) + "\n";
        out += "synergy_tokend_upstream_request_duration_seconds_count " + std::to_string(h.count) +
               "\n";
    }
    {
        header(out, "synergy_tokend_upstream_errors_total", "counter",
               "Upstream requests that got no HTTP reply (network, TLS, timeout).");
        out += "synergy_tokend_upstream_errors_total " + std::to_string(s.upstream.errors) + "\n";
        header(out, "synergy_tokend_upstream_connections", "gauge",
               "Upstream connections open, by state.");
        out += "synergy_tokend_upstream_connections{state=\"idle\"} " +
               std::to_string(s.upstream.idle_connections) + "\n";
        out += "synergy_tokend_upstream_connections{state=\"busy\"} " +
               std::to_string(s.upstream.open_connections - s.upstream.idle_connections) + "\n";
        header(out, "synergy_tokend_upstream_tls_handshakes_total", "counter",
               "TLS handshakes with upstream.");
        out += "synergy_tokend_upstream_tls_handshakes_total " +
               std::to_string(s.upstream.tls_handshakes) + "\n";
        header(out, "synergy_tokend_upstream_resent_total", "counter",
               "Upstream requests sent again because their kept-alive connection was found "
               "closed before any byte of the reply.");
        out += "synergy_tokend_upstream_resent_total " + std::to_string(s.upstream.resent) + "\n";
        header(out, "synergy_tokend_upstream_discarded_connections_total", "counter",
               "Idle upstream connections dropped before reuse: upstream had closed them, or sent "
               "bytes no request asked for.");
        out += "synergy_tokend_upstream_discarded_connections_total " +
               std::to_string(s.upstream.discarded_connections) + "\n";
    }

    if (s.requests != nullptr) {
        header(out, "synergy_tokend_http_requests_total", "counter",
               "Local API requests by route and status code.");
        for (const auto& [key, n] : s.requests->by_route_code)
            out += "synergy_tokend_http_requests_total{route=\"" + label(key.first) + "\",code=\"" +
                   std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
        header(out, "synergy_tokend_proxy_requests_total", "counter",
               "/v1/info requests by outcome.");
        for (const auto& [outcome, n] : s.requests->proxy_outcomes)
            out += "synergy_tokend_proxy_requests_total{outcome=\"" + label(outcome) + "\"} " +
                   std::to_string(n) + "\n";
        header(out, "synergy_tokend_access_denied_total", "counter",
               "Requests refused because the caller may not read the profile (tokens[].allow).");
        for (const auto& [profile, n] : s.requests->access_denied)
            out += "synergy_tokend_access_denied_total{profile=\"" + label(profile) + "\"} " +
                   std::to_string(n) + "\n";
    }

    header(out, "synergy_tokend_open_connections", "gauge", "Local client connections open.");
    out += "synergy_tokend_open_connections " + std::to_string(s.open_connections) + "\n";
    header(out, "synergy_tokend_held_requests", "gauge",
           "Token requests held waiting for a token change (wait=).");
    out += "synergy_tokend_held_requests " + std::to_string(s.held_requests) + "\n";
    if (!s.sink_writes.empty()) {
        header(out, "synergy_tokend_sink_writes_total", "counter",
               "File sink writes by profile: ok, failed (writes and removals).");
        for (const auto& [profile, counts] : s.sink_writes) {
            out += "synergy_tokend_sink_writes_total{profile=\"" + profile + "\",outcome=\"ok\"} " +
                   std::to_string(counts.first) + "\n";
            out += "synergy_tokend_sink_writes_total{profile=\"" + profile +
                   "\",outcome=\"failed\"} " + std::to_string(counts.second) + "\n";
        }
    }
    return out;
}

} // namespace synergy_tokend
