#include "synergy_tokend/cli.hpp"

namespace synergy_tokend {

cli_command parse_command_line(const std::vector<std::string>& args) {
    cli_command cmd;
    std::vector<std::string> positional;
    bool saw_endpoint = false;
    bool saw_watch = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        std::string value;
        bool has_value = false;
        if (arg.starts_with("--")) {
            if (const auto eq = arg.find('='); eq != std::string::npos) {
                value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
                has_value = true;
            }
        }
        auto take_value = [&](const char* option) {
            if (has_value)
                return true;
            if (i + 1 >= args.size()) {
                cmd.error = std::string(option) + " needs a value";
                return false;
            }
            value = args[++i];
            return true;
        };
        if (arg == "--help" || arg == "-h") {
            cmd.action = cli_action::help;
            return cmd;
        }
        if (arg == "--version") {
            cmd.action = cli_action::version;
            return cmd;
        }
        if (arg == "--config" || arg == "-c") {
            if (!take_value("--config"))
                return cmd;
            if (value.empty()) {
                cmd.error = "--config needs a file name";
                return cmd;
            }
            cmd.config_path = value;
        } else if (arg == "--endpoint") {
            if (!take_value("--endpoint"))
                return cmd;
            if (value.empty()) {
                cmd.error = "--endpoint needs a value (http://HOST:PORT or unix:/path)";
                return cmd;
            }
            cmd.endpoint = value;
            saw_endpoint = true;
        } else if (arg == "--watch") {
            if (has_value) {
                cmd.error = "--watch takes no value";
                return cmd;
            }
            saw_watch = true;
        } else if (arg.starts_with("-") && arg != "-") {
            cmd.error = "unknown option " + arg;
            return cmd;
        } else {
            positional.push_back(arg);
        }
    }

    std::size_t expected_args = 0;
    if (positional.empty() || positional[0] == "run") {
        cmd.action = cli_action::run;
    } else if (positional[0] == "check-config") {
        cmd.action = cli_action::check_config;
    } else if (positional[0] == "token") {
        cmd.action = cli_action::token;
        expected_args = 1;
    } else if (positional[0] == "status") {
        cmd.action = cli_action::status;
    } else if (positional[0] == "whoami") {
        cmd.action = cli_action::whoami;
    } else {
        cmd.error = "unknown command '" + positional[0] + "'";
        return cmd;
    }
    const std::size_t given = positional.empty() ? 0 : positional.size() - 1;
    if (cmd.action == cli_action::token && given == 0) {
        cmd.error = "token: missing profile NAME";
        return cmd;
    }
    if (given > expected_args) {
        cmd.error = "unexpected argument '" + positional[1 + expected_args] + "'";
        return cmd;
    }
    if (cmd.action == cli_action::token)
        cmd.token_name = positional[1];
    if (saw_watch && cmd.action != cli_action::token) {
        cmd.error = "--watch is for the token command";
        return cmd;
    }
    cmd.watch = saw_watch;
    if (saw_endpoint && (cmd.action == cli_action::run || cmd.action == cli_action::check_config))
        cmd.error = "--endpoint is for the token, status and whoami commands";
    return cmd;
}

const char* usage_text() {
    return "usage: synergy-tokend [run] [--config FILE]\n"
           "       synergy-tokend check-config [--config FILE]\n"
           "       synergy-tokend token NAME [--watch] [--endpoint http://HOST:PORT | unix:/PATH]\n"
           "       synergy-tokend status [--endpoint http://HOST:PORT | unix:/PATH]\n"
           "       synergy-tokend whoami [--endpoint http://HOST:PORT | unix:/PATH]\n"
           "       synergy-tokend --help | --version\n"
           "\n"
           "run           keep the configured tokens fresh and serve them (the default)\n"
           "check-config  validate the configuration and exit: 0 valid, 2 invalid\n"
           "token NAME    print profile NAME's token from a running daemon; with --watch, print\n"
           "              it and then each new token as a line, until an error\n"
           "status        print a running daemon's profiles as a table\n"
           "whoami        print who a running daemon takes this process for, and what it may read\n"
           "\n"
           "--config FILE  default /etc/synergy-tokend/config.json\n"
           "--endpoint E   default $SYNERGY_TOKEND_ENDPOINT, else "
           "unix:/run/synergy-tokend/tokend.sock\n";
}

} // namespace synergy_tokend
