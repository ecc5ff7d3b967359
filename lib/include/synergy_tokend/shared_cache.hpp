// The fleet's shared token cache in Redis (PRODUCT.md §10): the Redis operations the store's
// shared attempts need (shared_cache_policy.hpp decides which), sealed (sealed_entry.hpp), with the
// state of the link to Redis (sharing / fallback) logged once per change and counted.
//
// - read(): GET of an entry; an entry that fails authentication or decoding is logged (once per
//   distinct value), counted and treated as no entry; a Redis failure is read_outcome::failed.
// - take_lease(): SET name:lease OWNER NX PX lease_ms, OWNER 16 random bytes in hex.
// - publish(): SET name SEALED PX ttl (the token's remaining servable time), then releases the
//   lease with a compare-and-delete script (EVAL: DEL only when the value is still OWNER).
// - Every command has the deadline it is given (never more than shared_cache.timeout_ms ahead);
//   any failure (connect, timeout, garbage, an unexpected reply) moves the link to fallback,
//   which is logged once; the first success after it logs the return to sharing.
//
// All calls on the executor given at construction; nothing throws for Redis's failures.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "synergy_tokend/redis_client.hpp"
#include "synergy_tokend/sealed_entry.hpp"
#include "synergy_tokend/shared_cache_config.hpp"
#include "synergy_tokend/shared_cache_policy.hpp"

namespace synergy_tokend {

struct shared_read {
    read_outcome outcome = read_outcome::none;
    std::optional<shared_entry> entry;
};

class shared_cache {
public:
    using clock = std::chrono::steady_clock;

    // Reads the password file (relative: $CREDENTIALS_DIRECTORY first). Throws
    // std::runtime_error naming the file when it cannot be read, or the CA file.
    // `backoff` and `draw` (uniform in [0, 1)) time the retries of Redis in fallback.
    shared_cache(boost::asio::any_io_executor ex, const shared_cache_config& cfg,
                 const refresh_config& backoff, std::function<double()> draw);

    const shared_cache_config& config() const { return cfg_; }
    shared_link& link() { return link_; }
    shared_cache_view view() const;

    // The keys and the entry name for a profile key under `identity_token` (cached per token).
    std::string entry_name(const std::string& identity_token, const std::string& profile_key);
    const shared_keys& keys(const std::string& identity_token);

    boost::asio::awaitable<shared_read> read(std::string name, shared_keys keys,
                                             clock::time_point deadline);
    // The owner value to release with, or nullopt when the lease was not won (`outcome`).
    boost::asio::awaitable<lease_outcome> take_lease(std::string name, std::string owner,
                                                     clock::time_point deadline);
    boost::asio::awaitable<void> publish(std::string name, shared_keys keys, shared_entry entry,
                                         std::chrono::milliseconds ttl, std::string owner);
    // Releases a lease without an entry (the holder's fetch failed).
    boost::asio::awaitable<void> release(std::string name, std::string owner);

    std::string new_owner();
    // Closes the idle Redis connections (at stop).
    void close() { redis_.close(); }

private:
    void failed(const redis_result& r, const char* what);
    void succeeded();

    shared_cache_config cfg_;
    refresh_config backoff_;
    std::function<double()> draw_;
    redis_client redis_;
    shared_link link_;
    std::string keys_for_; // SHA-256 hex of the identity token the keys are for
    shared_keys keys_;
    std::string last_rejected_; // the last entry value rejected, to log each once
};

} // namespace synergy_tokend
