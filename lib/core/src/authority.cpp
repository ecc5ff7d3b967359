#include "synergy_tokend/authority.hpp"

#include <algorithm>

namespace synergy_tokend {

std::optional<host_and_port> split_authority(std::string_view authority) {
    host_and_port out{authority, {}};
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        out.host = authority.substr(1, close - 1);
        out.bracketed = true;
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':')
                return std::nullopt;
            out.port = authority.substr(close + 2);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        out.host = authority.substr(0, colon);
        out.port = authority.substr(colon + 1);
    }
    return out;
}

url_parts split_url_rest(std::string_view rest) {
    url_parts out;
    if (rest.find_first_of("?#") != std::string_view::npos) {
        out.problem = url_parts::problem::query_or_fragment;
        return out;
    }
    const auto slash = std::min(rest.find('/'), rest.size());
    out.authority = rest.substr(0, slash);
    out.path = rest.substr(slash);
    if (out.authority.find('@') != std::string_view::npos)
        out.problem = url_parts::problem::user_info;
    return out;
}

} // namespace synergy_tokend
