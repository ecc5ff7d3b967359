#include "synergy_tokend/reload_plan.hpp"

namespace synergy_tokend {

namespace {

bool same_listeners(const listen_config& a, const listen_config& b) {
    return a.tcp == b.tcp && a.unix_path == b.unix_path && a.unix_mode == b.unix_mode &&
           a.max_connections == b.max_connections && a.request_timeout == b.request_timeout &&
           a.keepalive_idle == b.keepalive_idle && a.allow_remote == b.allow_remote;
}

} // namespace

reload_plan plan_reload(const config& running, config next) {
    reload_plan plan;
    if (!(next.upstream == running.upstream))
        plan.restart_needed.push_back("upstream.* changes take effect after a restart");
    if (!same_listeners(next.listen, running.listen))
        plan.restart_needed.push_back(
            "listen.* changes (other than require_request_header) take effect after a restart");
    if (next.state.dir != running.state.dir || next.state.persist != running.state.persist ||
        next.service.startup_timeout != running.service.startup_timeout)
        plan.restart_needed.push_back(
            "state.* and service.startup_timeout_s changes take effect after a restart");
    plan.identity_changed = !(next.identity == running.identity);

    next.upstream = running.upstream;
    const bool require_header = next.listen.require_request_header;
    next.listen = running.listen;
    next.listen.require_request_header = require_header;
    next.state = running.state;
    next.service.startup_timeout = running.service.startup_timeout;
    plan.apply = std::move(next);
    return plan;
}

} // namespace synergy_tokend
