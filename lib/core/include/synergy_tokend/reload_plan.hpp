// What a SIGHUP reload does with a new, valid configuration (PRODUCT.md §7), decided without I/O:
// which settings apply live, which keep their running value until a restart (each named in a
// warning for the log), and whether the identity source changed. The service carries the plan out.
#pragma once

#include <string>
#include <vector>

#include "synergy_tokend/config.hpp"

namespace synergy_tokend {

struct reload_plan {
    // `next` with every setting that cannot change live put back to its running value:
    // upstream.*, listen.* but require_request_header, state.*, service.startup_timeout_s.
    config apply;
    // One line per section whose change was kept back, for the log.
    std::vector<std::string> restart_needed;
    bool identity_changed = false;
};

reload_plan plan_reload(const config& running, config next);

} // namespace synergy_tokend
