#include "synergy_tokend/token_exchange.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/token_request.hpp"

namespace synergy_tokend {

namespace json = boost::json;

token_call build_token_call(std::string_view identity_token, std::string_view product,
                            std::string_view customer_id,
                            const std::optional<std::vector<std::string>>& scopes) {
    json::object body;
    body["userIdentityToken"] = identity_token;
    body["product"] = product;
    body["customerId"] = customer_id;
    if (scopes) {
        json::array list;
        for (auto& s : normalized_scopes(*scopes))
            list.emplace_back(std::move(s));
        body["scopes"] = std::move(list);
    }
    token_call call;
    call.body = json::serialize(body);
    return call;
}

token_call_result classify_token_reply(const token_call_reply& reply,
                                       std::chrono::seconds default_lifetime,
                                       std::chrono::system_clock::time_point now) {
    token_call_result out;
    if (reply.status / 100 == 2) {
        auto parsed = parse_token_reply(reply.body, default_lifetime, now);
        if (!parsed) {
            out.outcome = token_call_outcome::bad_reply;
            out.cls = failure_class::transient;
            out.problem = "HTTP " + std::to_string(reply.status) + ": " + parsed.error().message();
            return out;
        }
        out.outcome = token_call_outcome::ok;
        out.reply = std::move(*parsed);
        return out;
    }
    out.outcome = token_call_outcome::http_error;
    out.cls = classify_status(reply.status);
    if (reply.retry_after)
        out.retry_after = parse_retry_after(*reply.retry_after, now);
    return out;
}

} // namespace synergy_tokend
