#include "synergy_tokend/authority.hpp"

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

} // namespace synergy_tokend
