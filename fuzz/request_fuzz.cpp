// libFuzzer target: the request policy, the router (with its Accept negotiation), the change-wait
// parameters and the drop-in body parser, fed from one input split into method, target, Host
// header (also read as an Accept and an If-None-Match header) and body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "synergy_tokend/change_wait.hpp"
#include "synergy_tokend/request_policy.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/token_request.hpp"

namespace st = synergy_tokend;

namespace {

std::string_view next_field(std::string_view& in) {
    const auto nl = in.find('\n');
    const std::string_view field = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    return field;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string_view method = next_field(in);
    const std::string_view target = next_field(in);
    const std::string_view host = next_field(in);
    const std::string_view body = in;

    const st::route r = st::match_route(method, target);
    // No info route may reach outside /info through dot segments in its path (a query may hold
    // anything).
    if (r.kind == st::route_kind::info) {
        const std::string_view path = std::string_view(r.param).substr(0, r.param.find('?'));
        if (path.find("/../") != std::string_view::npos || path.ends_with("/..") ||
            path.find("/./") != std::string_view::npos)
            __builtin_trap();
    }
    st::request_facts facts;
    facts.host = host;
    facts.tokend_request = body.substr(0, 1);
    const auto verdict = st::check_request(facts, r.kind, true);
    if (verdict == st::policy_verdict::allow && !st::host_allowed(host))
        __builtin_trap();
    (void)st::route_label(r.kind);
    // Accept: an exact application/json first can never be outbid; text/html first only helps.
    const std::string accept(host);
    if (st::prefers_html("application/json," + accept))
        __builtin_trap();
    if (st::prefers_html(accept) && !st::prefers_html("text/html," + accept))
        __builtin_trap();
    const auto parsed = st::parse_token_request(body);
    if (parsed.ok()) {
        if (parsed.value.identity_token.empty() || parsed.value.product.empty())
            __builtin_trap();
        // Distinct requests never share key material (the key is its digest).
        if (st::on_demand_key_material(parsed.value, "h").empty())
            __builtin_trap();
    }
    // Change-wait parameters: a bounded wait, and only well-formed quoted tags, at most 16.
    for (const auto inm :
         {std::optional<std::string_view>(), std::optional<std::string_view>(host)}) {
        const st::change_wait_parse w = st::parse_change_wait(target, inm);
        if (!w.ok())
            continue;
        if (w.value.wait.count() < 0 || w.value.wait.count() > st::max_wait_seconds ||
            w.value.etags.size() > 16)
            __builtin_trap();
        for (const auto& tag : w.value.etags)
            if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"' ||
                tag.find('"', 1) != tag.size() - 1)
                __builtin_trap();
        if (w.value.holds() != (!w.value.etags.empty() && w.value.wait.count() > 0))
            __builtin_trap();
    }
    (void)st::error_envelope(400, "INVALID_DATA", target, "2026-11-23T00:00:00Z");
    return 0;
}
