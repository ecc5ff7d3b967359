// Command-line parsing (PRODUCT.md §7). Pure: no I/O.
//
//   synergy-tokend [run] [--config FILE]
//   synergy-tokend check-config [--config FILE]
//   synergy-tokend token NAME [--watch] [--endpoint E]
//   synergy-tokend status [--endpoint E]
//   synergy-tokend whoami [--endpoint E]
//   synergy-tokend --help | --version
// Options may stand before or after the subcommand's arguments; "--opt=value" is accepted too.
#pragma once

#include <string>
#include <vector>

namespace synergy_tokend {

// The exit codes of every command (PRODUCT.md §7), in one place.
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;     // `run`: a runtime failure at start; clients: an error reply
inline constexpr int usage = 2;       // bad arguments, or an invalid configuration
inline constexpr int unreachable = 3; // clients: the daemon did not answer
} // namespace exit_code

enum class cli_action { run, check_config, token, status, whoami, help, version };

struct cli_command {
    cli_action action = cli_action::run;
    std::string config_path = "/etc/synergy-tokend/config.json";
    std::string endpoint;   // empty = $SYNERGY_TOKEND_ENDPOINT or the default Unix socket
    std::string token_name; // for `token`
    bool watch = false;     // `token --watch`: print each new token as a line
    std::string error;      // non-empty: bad arguments (exit 2 with usage)
};

cli_command parse_command_line(const std::vector<std::string>& args);

const char* usage_text();

} // namespace synergy_tokend
