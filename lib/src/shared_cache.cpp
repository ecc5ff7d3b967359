#include "synergy_tokend/shared_cache.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

#include <openssl/rand.h>

#include "synergy_tokend/digest.hpp"
#include "synergy_tokend/log.hpp"
#include "synergy_tokend/text.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;

namespace {

constexpr std::string_view release_script =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

std::string read_password(const std::string& name) {
    if (name.empty())
        return {};
    std::string path = name;
    if (name.front() != '/') {
        if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir && *dir) {
            std::string candidate = std::string(dir) + "/" + name;
            struct stat st {};
            if (::stat(candidate.c_str(), &st) == 0)
                path = std::move(candidate);
        }
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("shared_cache.password_file " + path + ": " +
                                 std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    std::string password(trim(text.str()));
    if (password.empty())
        throw std::runtime_error("shared_cache.password_file " + path + ": empty");
    return password;
}

// A command's arguments (a plain function: GCC 12 cannot take a braced list of string literals
// into a coroutine's parameter).
std::vector<std::string> args(std::initializer_list<std::string_view> parts) {
    std::vector<std::string> out;
    for (std::string_view a : parts)
        out.emplace_back(a);
    return out;
}

std::string lease_name(const std::string& name) {
    return name + ":lease";
}

// The commands, made outside the coroutines (GCC 12 miscompiles a braced list in a coroutine).
std::vector<std::string> get_command(const std::string& name) {
    return args({"GET", name});
}
std::vector<std::string> lease_command(const std::string& name, const std::string& owner,
                                       std::chrono::milliseconds lease) {
    return args({"SET", lease_name(name), owner, "NX", "PX", std::to_string(lease.count())});
}
std::vector<std::string> set_command(const std::string& name, const std::string& sealed,
                                     std::chrono::milliseconds ttl) {
    return args({"SET", name, sealed, "PX", std::to_string(ttl.count())});
}
std::vector<std::string> release_command(const std::string& name, const std::string& owner) {
    return args({"EVAL", release_script, "1", lease_name(name), owner});
}

} // namespace

shared_cache::shared_cache(asio::any_io_executor ex, const shared_cache_config& cfg,
                           const refresh_config& backoff, std::function<double()> draw)
    : cfg_(cfg)
    , backoff_(backoff)
    , draw_(std::move(draw))
    , redis_(ex, cfg, read_password(cfg.password_file)) {}

shared_cache_view shared_cache::view() const {
    shared_cache_view v;
    v.url = cfg_.url;
    v.state = link_.state;
    v.last_error = link_.last_error;
    v.hits = link_.hits;
    v.lease_wins = link_.lease_wins;
    v.fallbacks = link_.fallbacks;
    v.errors = link_.errors;
    v.rejected_entries = link_.rejected_entries;
    v.commands = redis_.commands_sent();
    return v;
}

const shared_keys& shared_cache::keys(const std::string& identity_token) {
    std::string id = sha256_hex(identity_token);
    if (id != keys_for_) {
        keys_ = derive_shared_keys(identity_token);
        keys_for_ = std::move(id);
    }
    return keys_;
}

std::string shared_cache::entry_name(const std::string& identity_token,
                                     const std::string& profile_key) {
    return entry_key_name(keys(identity_token), cfg_.key_prefix, profile_key);
}

std::string shared_cache::new_owner() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        throw std::runtime_error("no random bytes for a lease owner");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

void shared_cache::failed(const redis_result& r, const char* what) {
    std::string problem = std::string(what) + ": " + r.ec.message();
    if (!r.detail.empty())
        problem += " (" + r.detail + ")";
    if (link_.on_failure(clock::now(), problem, backoff_, draw_()))
        log::warn("shared_cache", "Redis at " + cfg_.url + " failed: " + problem +
                                      "; falling back to per-host fetches until it answers again");
}

void shared_cache::succeeded() {
    if (link_.on_success())
        log::info("shared_cache", "Redis at " + cfg_.url + " answers again; sharing tokens");
}

asio::awaitable<shared_read> shared_cache::read(std::string name, shared_keys keys,
                                                clock::time_point deadline) {
    shared_read out;
    redis_result r = co_await redis_.command(get_command(name), deadline);
    get_meaning got;
    if (r.ok()) {
        got = meaning_of_get(r.reply);
        if (!got.problem.empty()) {
            r.ec = make_error_code(redis_errc::protocol_error);
            r.detail = std::move(got.problem);
        }
    }
    if (!r.ok()) {
        failed(r, "GET");
        out.outcome = read_outcome::failed;
        co_return out;
    }
    succeeded();
    if (!got.value)
        co_return out;
    unseal_result u = unseal_entry(keys, name, *got.value);
    if (!u.entry) {
        ++link_.rejected_entries;
        const std::string digest = sha256_hex(*got.value);
        if (digest != last_rejected_) {
            last_rejected_ = digest;
            log::warn("shared_cache", "ignoring the shared entry " + name + ": " + u.problem +
                                          "; this host fetches its own token");
        }
        co_return out;
    }
    out.outcome = read_outcome::entry;
    out.entry = std::move(u.entry);
    co_return out;
}

asio::awaitable<lease_outcome> shared_cache::take_lease(std::string name, std::string owner,
                                                        clock::time_point deadline) {
    redis_result r = co_await redis_.command(lease_command(name, owner, cfg_.lease), deadline);
    if (r.ok()) {
        const set_nx_meaning lease = meaning_of_set_nx(r.reply);
        if (lease.problem.empty()) {
            succeeded();
            if (!lease.won)
                co_return lease_outcome::lost;
            ++link_.lease_wins;
            co_return lease_outcome::won;
        }
        r.ec = make_error_code(redis_errc::protocol_error);
        r.detail = lease.problem;
    }
    failed(r, "SET NX");
    co_return lease_outcome::failed;
}

asio::awaitable<void> shared_cache::publish(std::string name, shared_keys keys, shared_entry entry,
                                            std::chrono::milliseconds ttl, std::string owner) {
    if (ttl.count() > 0) {
        redis_result r = co_await redis_.command(
            set_command(name, seal_entry(keys, name, entry), ttl), clock::now() + cfg_.timeout);
        if (r.ok()) {
            if (std::string problem = problem_unless_ok(r.reply, "SET"); !problem.empty()) {
                r.ec = make_error_code(redis_errc::protocol_error);
                r.detail = std::move(problem);
            }
        }
        if (!r.ok()) {
            failed(r, "SET");
            co_return;
        }
        succeeded();
    }
    co_await release(std::move(name), std::move(owner));
}

asio::awaitable<void> shared_cache::release(std::string name, std::string owner) {
    redis_result r =
        co_await redis_.command(release_command(name, owner), clock::now() + cfg_.timeout);
    if (r.ok()) {
        if (auto released = meaning_of_integer(r.reply, "EVAL"); !released.problem.empty()) {
            r.ec = make_error_code(redis_errc::protocol_error);
            r.detail = std::move(released.problem);
        }
    }
    if (!r.ok())
        failed(r, "EVAL (lease release)");
    else
        succeeded();
}

} // namespace synergy_tokend
