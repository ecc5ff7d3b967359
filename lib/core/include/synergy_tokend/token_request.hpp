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

// SHA-256 (hex) of the identity token, product, customerId and sorted scopes: the on-demand
// cache key. Two identity tokens never share a key, and the key does not reveal the token.
std::string on_demand_key(const token_request& req);

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

} // namespace synergy_tokend
