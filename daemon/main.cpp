// synergy-tokend: argv -> command -> config -> run. All logic lives in lib/.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "synergy_tokend/cli.hpp"
#include "synergy_tokend/cli_client.hpp"
#include "synergy_tokend/config.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/service.hpp"

namespace tokend = synergy_tokend;

namespace {

int check_config(const std::string& path) {
    const auto parsed = tokend::load_config_file(path);
    for (const auto& e : parsed.errors)
        std::cerr << e << '\n';
    if (!parsed.ok())
        return tokend::exit_code::usage;
    std::cout << path << ": valid, " << parsed.value.tokens.size() << " token profile(s)\n";
    return tokend::exit_code::ok;
}

int run(const std::string& path) {
    tokend::log::detect_journal();
    const auto parsed = tokend::load_config_file(path);
    if (!parsed.ok()) {
        for (const auto& e : parsed.errors)
            tokend::log::error("config", e);
        return tokend::exit_code::usage;
    }
    return tokend::run_daemon(parsed.value, path);
}

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const tokend::cli_command cmd = tokend::parse_command_line(args);
    if (!cmd.error.empty()) {
        std::cerr << "synergy-tokend: " << cmd.error << '\n' << tokend::usage_text();
        return tokend::exit_code::usage;
    }
    switch (cmd.action) {
    case tokend::cli_action::help:
        std::cout << tokend::usage_text();
        return tokend::exit_code::ok;
    case tokend::cli_action::version:
        std::cout << "synergy-tokend " SYNERGY_TOKEND_VERSION "\n";
        return tokend::exit_code::ok;
    case tokend::cli_action::check_config:
        return check_config(cmd.config_path);
    case tokend::cli_action::run:
        return run(cmd.config_path);
    case tokend::cli_action::token:
        return tokend::run_token_command(tokend::choose_endpoint(cmd.endpoint), cmd.token_name,
                                         std::cout, std::cerr, cmd.watch);
    case tokend::cli_action::status:
        return tokend::run_status_command(tokend::choose_endpoint(cmd.endpoint), std::cout,
                                          std::cerr);
    case tokend::cli_action::whoami:
        return tokend::run_whoami_command(tokend::choose_endpoint(cmd.endpoint), std::cout,
                                          std::cerr);
    }
    return tokend::exit_code::usage;
}
