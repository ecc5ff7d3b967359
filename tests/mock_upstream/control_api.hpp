// The control API that tests use to steer the mock (see main.cpp for the contract), without I/O.
// Replies are JSON: 200 {"ok":true} unless the route returns data, 400 {"ok":false,"error":...}
// for a bad body, 404/405 for unknown routes or methods. What needs the network (taking the API
// port down or up) is returned as an action for the server to carry out.
//
// Never throws on any input; must run on the event-loop thread that owns state.
#pragma once

#include <chrono>
#include <optional>

#include "mock_api.hpp"
#include "mock_state.hpp"

namespace synergy_auth_mock {

struct api_down {
    std::optional<std::chrono::milliseconds> duration; // nullopt: until api_up
};

struct control_result {
    response res; // complete: Content-Length and keep-alive set
    std::optional<api_down> down;
    bool up = false;
};

control_result handle_control(mock_state& state, const request& req);

} // namespace synergy_auth_mock
