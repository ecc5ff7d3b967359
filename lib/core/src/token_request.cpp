#include "synergy_tokend/token_request.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace synergy_tokend {

namespace json = boost::json;

token_request_parse parse_token_request(std::string_view body) {
    token_request_parse out;
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec || !doc.is_object()) {
        out.error = "request body must be a JSON object";
        return out;
    }
    const json::object& obj = doc.as_object();
    for (const auto& kv : obj) {
        const std::string_view key = kv.key();
        if (key != "userIdentityToken" && key != "product" && key != "customerId" &&
            key != "scopes") {
            out.error = "unknown field " + std::string(key);
            return out;
        }
    }
    auto required_string = [&](const char* key, std::string& into) {
        const json::value* v = obj.if_contains(key);
        if (v == nullptr) {
            out.error = std::string(key) + " is required";
            return false;
        }
        if (!v->is_string() || v->as_string().empty()) {
            out.error = std::string(key) + ": expected a non-empty string";
            return false;
        }
        into = std::string(v->as_string());
        return true;
    };
    if (!required_string("userIdentityToken", out.value.identity_token) ||
        !required_string("product", out.value.product))
        return out;

    const json::value* customer = obj.if_contains("customerId");
    if (customer == nullptr) {
        out.error = "customerId is required";
        return out;
    }
    if (customer_id_from_json(*customer, out.value.customer_id) != customer_id_problem::none) {
        out.error = "customerId: expected a string or a number";
        return out;
    }

    if (const json::value* scopes = obj.if_contains("scopes"); scopes && !scopes->is_null()) {
        if (!scopes->is_array()) {
            out.error = "scopes: expected an array of strings";
            return out;
        }
        std::vector<std::string> list;
        for (const auto& s : scopes->as_array()) {
            if (!s.is_string()) {
                out.error = "scopes: expected an array of strings";
                return out;
            }
            list.emplace_back(s.as_string());
        }
        out.value.scopes = std::move(list);
    }
    return out;
}

std::vector<std::string> normalized_scopes(std::vector<std::string> scopes) {
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    return scopes;
}

bool same_scopes(const std::optional<std::vector<std::string>>& a,
                 const std::optional<std::vector<std::string>>& b) {
    if (a.has_value() != b.has_value())
        return false;
    return !a || normalized_scopes(*a) == normalized_scopes(*b);
}

customer_id_problem customer_id_from_json(const json::value& v, std::string& out) {
    if (v.is_string()) {
        if (v.get_string().empty())
            return customer_id_problem::empty_string;
        out.assign(v.get_string().data(), v.get_string().size());
    } else if (v.is_int64() && v.get_int64() >= 0) {
        out = std::to_string(v.get_int64());
    } else if (v.is_uint64()) {
        out = std::to_string(v.get_uint64());
    } else if (v.is_number()) {
        return customer_id_problem::not_a_whole_number;
    } else {
        return customer_id_problem::not_a_string_or_number;
    }
    return customer_id_problem::none;
}

std::string on_demand_key_material(const token_request& req, std::string_view identity_sha256) {
    // Length-prefixed fields: no two different requests can produce the same input.
    std::string material;
    auto add = [&](std::string_view field) {
        material += std::to_string(field.size());
        material += ':';
        material += field;
    };
    add(identity_sha256);
    add(req.product);
    add(req.customer_id);
    if (req.scopes) {
        material += "scopes";
        for (const auto& s : normalized_scopes(*req.scopes))
            add(s);
    } else {
        material += "all";
    }
    return material;
}

} // namespace synergy_tokend
