// File sinks (PRODUCT.md §11): for programs that can only read a file, a profile's
// `tokens[].sink` gets the profile's servable token written to it (`"format": "token"`, the bare
// token) or the token endpoint's JSON (`"json"`), and nothing else:
// - after every refresh (and at start, once a servable token is there) the file is replaced
//   atomically: a temporary file in the same directory, created with the sink's mode, written,
//   fsync'ed, renamed over the file, and the directory fsync'ed; a reader sees the old file or
//   the new one, never a partial one;
// - the file is removed when the token stops being servable (it expired unrefreshed, or a reload
//   replaced the profile and its new token is not there yet), when a reload drops the profile or
//   its sink, and the old file when a reload moves the sink; it is left in place when the daemon
//   stops, so programs keep a valid token across a restart;
// - a failed write or removal is logged (never the token) and counted, retried 5 s later, and
//   never ends the daemon.
// One coroutine per sink follows its profile through token_store's change notification
// (token_changes.hpp); no polling. All members run on the store's executor.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "synergy_tokend/config.hpp"
#include "synergy_tokend/profile_view.hpp"

namespace synergy_tokend {

class token_store;

struct sink_counts {
    std::uint64_t writes = 0;   // files written
    std::uint64_t failures = 0; // writes or removals that failed
};

class token_sinks {
public:
    // `cfg` is the running configuration, read again after every reload().
    token_sinks(boost::asio::any_io_executor ex, token_store& store, const config& cfg);
    token_sinks(const token_sinks&) = delete;
    token_sinks& operator=(const token_sinks&) = delete;

    // Starts following every configured sink.
    void start();
    // After a reload (store and configuration both updated): follows new sinks, and makes every
    // sink look at its configuration again.
    void reload();

    // By profile name.
    const std::map<std::string, sink_counts>& counts() const { return counts_; }

private:
    static boost::asio::awaitable<void> follow(token_sinks* self, std::string name);
    const sink_config* sink_of(const std::string& name) const;

    boost::asio::any_io_executor ex_;
    token_store& store_;
    const config& cfg_;
    std::set<std::string> following_;
    std::map<std::string, sink_counts> counts_;
};

// The bytes a sink holds for `token` at time `now`: the bare token, or the token endpoint's JSON.
// Pure.
std::string sink_content(sink_config::format fmt, const token_value& token,
                         wall_clock::time_point now);

// Replaces `path` atomically with `content` (see above); "" on success, else the reason.
std::string write_file_atomically(const std::string& path, const std::string& content,
                                  unsigned mode);
// Removes `path` (gone already is fine) and syncs its directory; "" on success, else the reason.
std::string remove_file_durably(const std::string& path);

} // namespace synergy_tokend
