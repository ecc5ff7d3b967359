// The on-demand cache (PRODUCT.md §4, §5): tokens of drop-in POST /v1/products/token requests that
// match no profile, keyed by on_demand_key() (SHA-256 of the identity token, product, customer,
// sorted scopes), bounded by on_demand.max_entries and on_demand.max_bytes, least recently used
// evicted first, idle entries swept. Holds no identity token. It only keeps the entries and their
// bookkeeping; when to ask upstream is decide_on_demand() (store_policy.hpp) and the asking is the
// token store's.
//
// The bytes are an estimate of the heap an entry holds: the capacities of its strings (token,
// token type, upstream's error body, reason, content type and Retry-After, the last error's text,
// product, customer, scopes, and its key twice: in the map and in the LRU list) plus sizeof the
// entry and on_demand_entry_overhead for the map and list nodes, the shared_ptr control block and
// the allocator's headers.
//
// Not thread-safe; used on the token store's executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "synergy_tokend/clock.hpp"
#include "synergy_tokend/profile_view.hpp"
#include "synergy_tokend/store_policy.hpp"
#include "synergy_tokend/token_exchange.hpp"

namespace synergy_tokend {

struct attempt_signal; // token_store.cpp: what waiters of an upstream attempt wait on

struct on_demand_entry {
    std::string product;
    std::string customer_id;
    std::optional<std::vector<std::string>> scopes; // normalized
    std::optional<token_value> current;
    std::optional<wall_clock::time_point> refresh_due; // refresh on the first request after it
    std::shared_ptr<attempt_signal> attempt;           // set while an attempt is in flight
    std::optional<steady_time> last_attempt_end;
    std::optional<steady_time> not_before;              // upstream's Retry-After, if it sent one
    std::optional<upstream_http_error> last_http_error; // of the last attempt, if upstream said no
    bool last_reply_unusable = false; // the last attempt got a 2xx without a usable token
    std::string last_error;           // redacted
    // The cache's bookkeeping.
    std::list<std::string>::iterator lru_position;
    steady_time last_used{};         // last token served (or creation), for the sweep
    bool cached = false;             // in the cache (not evicted)
    std::size_t accounted_bytes = 0; // its part of bytes()
};

class on_demand_cache {
public:
    using entry_ptr = std::shared_ptr<on_demand_entry>;

    // The entry for `key`, or nullptr.
    entry_ptr find(const std::string& key) const;
    // A new entry for `key` (not present), made room for first within the bounds.
    entry_ptr insert(const std::string& key, on_demand_entry fields, steady_time now,
                     std::size_t max_entries, std::size_t max_bytes);
    // `e` served a token: most recently used.
    void touch(on_demand_entry& e, steady_time now);
    // Re-counts `e`'s bytes after it changed (no-op once evicted).
    void account(on_demand_entry& e);
    // Evicts least recently used entries until both bounds hold.
    void evict(std::size_t max_entries, std::size_t max_bytes);
    // Drops the entries unused since `cutoff`.
    void sweep(steady_time cutoff);
    // Calls `f` on every entry.
    void for_each(const std::function<void(on_demand_entry&)>& f) const;

    std::size_t size() const { return entries_.size(); }
    std::size_t bytes() const { return bytes_; }

private:
    void erase(std::unordered_map<std::string, entry_ptr>::iterator it);

    std::unordered_map<std::string, entry_ptr> entries_;
    std::list<std::string> lru_; // most recently used first
    std::size_t bytes_ = 0;
};

} // namespace synergy_tokend
