// The mock's log: one line per event on stderr, "synergy-auth-mock 08:43:41.227 <message>".
// It is a test tool, so messages may contain anything, tokens included; keep them short.
#pragma once

#include <string_view>

namespace synergy_auth_mock {

void log_line(std::string_view message);

} // namespace synergy_auth_mock
