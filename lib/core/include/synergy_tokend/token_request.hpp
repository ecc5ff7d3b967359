// The body of the drop-in POST /v1/products/token (PRODUCT.md §5), and the cache key of an
// on-demand token. Pure.
//
// Accepted like upstream's schema, leniently where PRODUCT.md §2 says so: userIdentityToken
// (non-empty string), product (non-empty string), customerId (string or integer number),
// scopes (optional array of strings); any other key, or a body that is not a JSON object, is an
// error naming the field. Error messages never contain the identity token.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::json {
class value;
}

namespace synergy_tokend {

struct token_request {
    std::string identity_token;
    std::string product;
    std::string customer_id;
    std::optional<std::vector<std::string>> scopes; // nullopt: all the user may have
};

struct token_request_parse {
    token_request value;
    std::string error; // non-empty: the body is malformed (400)
    bool ok() const { return error.empty(); }
};

token_request_parse parse_token_request(std::string_view body);

// Sorted, each once: scopes as they go upstream (upstream refuses duplicates) and into the key.
std::vector<std::string> normalized_scopes(std::vector<std::string> scopes);

// True when both name the same set of scopes (order and duplicates ignored; absent == absent).
bool same_scopes(const std::optional<std::vector<std::string>>& a,
                 const std::optional<std::vector<std::string>>& b);

// What the on-demand cache key is the digest of (digest.hpp, on_demand_key): the identity
// token's SHA-256, product, customerId and the normalized scopes, each length-prefixed, so that
// no two different requests give the same material.
std::string on_demand_key_material(const token_request& req, std::string_view identity_sha256);

// A customer id as the config (`customer_id`) and the drop-in body (`customerId`) both take it: a
// non-empty string, or a non-negative integer, kept as its decimal text. Sets `out` only when the
// value is acceptable; each caller words its own message for the problem.
enum class customer_id_problem { none, empty_string, not_a_whole_number, not_a_string_or_number };
customer_id_problem customer_id_from_json(const boost::json::value& v, std::string& out);

} // namespace synergy_tokend
