// The daemon's run loop (PRODUCT.md §7): wires upstream_client, token_store, local_api and
// local_server on one io_context, handles signals, and returns the process exit code.
//
// - SIGTERM/SIGINT: stop accepting, let requests in flight finish (up to
//   service.shutdown_grace_s), exit 0.
// - SIGHUP: re-read the identity token before the next fetch.
// Returns 0 after a clean stop, 1 when the daemon cannot start (a port in use, a socket path not
// writable, an unreadable CA file), having logged which.
#pragma once

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

int run_daemon(const config& cfg);

} // namespace synergy_tokend
