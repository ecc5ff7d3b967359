#include "mock_state.hpp"

namespace synergy_auth_mock {

void mock_state::reset() {
    const std::uint64_t open = count.open_connections;
    config = settings{};
    faults.clear();
    count = counters{};
    count.open_connections = open;
    count.max_open_connections = open;
    token_requests.clear();
    tokens.clear();
    last_info.reset();
    last_request_id = 0;
}

} // namespace synergy_auth_mock
