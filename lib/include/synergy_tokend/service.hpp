// The daemon's run loop (PRODUCT.md §7): wires upstream_client, token_store, local_api and
// local_server on one io_context, talks to systemd, handles signals, and returns the process
// exit code.
//
// - READY=1 once every profile's first fetch has ended or service.startup_timeout_s passed;
//   STATUS="N/M tokens servable" kept current; WATCHDOG=1 at half of WATCHDOG_USEC.
// - SIGHUP: RELOADING=1 + MONOTONIC_USEC=, re-read `config_path` and the identity token; an
//   invalid file is reported and the running configuration kept; then READY=1. Profiles, refresh,
//   on-demand, log and request-header settings apply at once; upstream.* and listen.* changes are
//   reported as needing a restart.
// - SIGTERM/SIGINT: STOPPING=1, stop accepting, let requests in flight finish (up to
//   service.shutdown_grace_s), exit 0.
// - Every 10 s the heap that glibc keeps after freeing is handed back to the kernel
//   (malloc_trim), so that resident memory follows the load down.
// Returns 0 after a clean stop, 1 when the daemon cannot start (a port in use, a socket path not
// writable, an unreadable CA file), having logged which.
#pragma once

#include <string>

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

int run_daemon(const config& cfg, const std::string& config_path);

} // namespace synergy_tokend
