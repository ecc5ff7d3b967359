#include "synergy_tokend/config.hpp"

#include "synergy_tokend/authority.hpp"
#include "synergy_tokend/token_request.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <set>
#include <sys/un.h>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

namespace synergy_tokend {
namespace {

namespace json = boost::json;

// Durations are capped so that no later arithmetic on them (nanosecond clocks, backoff doubling)
// can overflow; nobody needs a timeout longer than a year.
constexpr std::int64_t max_seconds = 366LL * 24 * 3600;
constexpr std::int64_t max_milliseconds = max_seconds * 1000;
constexpr std::int64_t max_count = std::numeric_limits<std::int32_t>::max();
// on_demand.max_bytes: below one entry's worth the cache could hold nothing; 1 TiB is beyond any
// host this runs on.
constexpr std::int64_t min_cache_bytes = 65536;
constexpr std::int64_t max_cache_bytes = std::int64_t{1} << 40;
// routes[].max_body_bytes: 1 TiB is beyond any request body a route should stream.
constexpr std::int64_t max_route_body_bytes = std::int64_t{1} << 40;
constexpr std::size_t max_name_length = 64;
// sockaddr_un::sun_path holds the path and its terminating NUL.
constexpr std::size_t max_unix_path_length = sizeof(sockaddr_un{}.sun_path) - 1;
// Config files are small; the cap keeps `--config /dev/zero` from eating memory.
constexpr std::size_t max_file_size = 1024 * 1024;

constexpr std::string_view example_base_url = "https://token.connect.sportradar.com/v1";

std::string child_path(std::string_view path, std::string_view key) {
    std::string out(path);
    if (!out.empty())
        out += '.';
    out += key;
    return out;
}

std::string element_path(std::string_view path, std::size_t index) {
    std::string out(path);
    out += '[';
    out += std::to_string(index);
    out += ']';
    return out;
}

// Levenshtein distance, for "did you mean" hints on misspelt keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Decimal digits only, no sign, value <= max.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) {
    if (s.empty() || s.size() > 10)
        return std::nullopt;
    std::uint64_t value = 0;
    for (char c : s) {
        if (!is_digit(c))
            return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value > max)
        return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

// --- upstream.base_url ---------------------------------------------------------------------------

struct base_url_check {
    std::string normalized; // valid when problem is empty
    bool insecure = false;  // http://
    std::string problem;    // "what was expected"
};

base_url_check check_base_url(std::string_view url) {
    base_url_check out;
    const std::string expected_url =
        "expected an http:// or https:// URL with a host, e.g. " + std::string(example_base_url);
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            out.problem = "expected a URL without spaces or control characters";
            return out;
        }
    }
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        out.problem = expected_url;
        return out;
    }
    const std::string scheme = ascii_lower(url.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") {
        out.problem = expected_url;
        return out;
    }
    out.insecure = scheme == "http";
    const url_parts parts = split_url_rest(url.substr(scheme_end + 3));
    if (parts.problem == url_parts::problem::query_or_fragment) {
        out.problem = "expected a URL without a query (?) or fragment (#)";
        return out;
    }
    if (parts.problem == url_parts::problem::user_info) {
        out.problem = "expected a URL without a user name or password";
        return out;
    }
    const std::string_view authority = parts.authority;
    std::string_view path = parts.path;

    const auto split = split_authority(authority);
    if (!split) {
        out.problem = expected_url;
        return out;
    }
    const std::string_view host = split->host;
    if (split->bracketed) {
        in6_addr address{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) {
            out.problem = "expected an IPv6 address between [ and ]";
            return out;
        }
    } else {
        if (host.empty()) {
            out.problem = expected_url;
            return out;
        }
        const bool host_chars_ok = std::all_of(host.begin(), host.end(), [](char c) {
            return is_alnum(c) || c == '-' || c == '.' || c == '_';
        });
        if (!host_chars_ok) {
            out.problem = "expected a host name or IP address after the scheme";
            return out;
        }
    }
    if (split->port) {
        const auto port = parse_decimal(*split->port, 65535);
        if (!port || *port == 0) {
            out.problem = "expected a port from 1 to 65535 after the host";
            return out;
        }
    }

    if (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    out.normalized = scheme + "://";
    out.normalized += authority;
    out.normalized += path;
    return out;
}

// --- listen.tcp ----------------------------------------------------------------------------------

struct parsed_listen_address {
    tcp_listen_address address;
    bool loopback = false;
};

constexpr std::string_view listen_address_expected =
    "expected \"HOST:PORT\" with HOST an IPv4 address, an [IPv6] address or localhost, and PORT "
    "from 0 to 65535 (e.g. \"127.0.0.1:8731\")";

std::optional<parsed_listen_address> parse_listen_address(std::string_view text) {
    const auto split = split_authority(text);
    if (!split || !split->port)
        return std::nullopt;
    const std::string_view host = split->host;
    const std::string_view port_text = *split->port;
    const bool bracketed = split->bracketed;
    const auto port = parse_decimal(port_text, 65535);
    if (!port)
        return std::nullopt;

    parsed_listen_address out;
    out.address.port = static_cast<std::uint16_t>(*port);
    char canonical[INET6_ADDRSTRLEN] = {};
    const std::string host_text(host);
    if (bracketed) {
        in6_addr address{};
        if (inet_pton(AF_INET6, host_text.c_str(), &address) != 1 ||
            inet_ntop(AF_INET6, &address, canonical, sizeof canonical) == nullptr)
            return std::nullopt;
        out.loopback = IN6_IS_ADDR_LOOPBACK(&address);
    } else {
        in_addr address{};
        const std::string literal = host_text == "localhost" ? "127.0.0.1" : host_text;
        if (inet_pton(AF_INET, literal.c_str(), &address) != 1 ||
            inet_ntop(AF_INET, &address, canonical, sizeof canonical) == nullptr)
            return std::nullopt;
        out.loopback = (ntohl(address.s_addr) >> 24) == 127;
    }
    out.address.host = canonical;
    return out;
}

// --- duplicate keys ------------------------------------------------------------------------------

// Boost.JSON keeps the last of two equal keys without a word; in a configuration file that is a
// mistake as silent as a typo, so a second pass over the (already well-formed) text finds them.
class duplicate_key_finder {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::vector<std::string> duplicates; // key paths

    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_object_begin(boost::system::error_code&) {
        frames_.push_back({true, {}, 0, {}});
        return true;
    }
    bool on_object_end(std::size_t, boost::system::error_code&) {
        frames_.pop_back();
        return value_done();
    }
    bool on_array_begin(boost::system::error_code&) {
        frames_.push_back({false, {}, 0, {}});
        return true;
    }
    bool on_array_end(std::size_t, boost::system::error_code&) {
        frames_.pop_back();
        return value_done();
    }
    bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
        key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
        key_.append(s.data(), s.size());
        frame& top = frames_.back();
        top.key = std::move(key_);
        key_.clear();
        if (!top.keys.insert(top.key).second)
            duplicates.push_back(path());
        return true;
    }
    bool on_string_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
    bool on_string(json::string_view, std::size_t, boost::system::error_code&) {
        return value_done();
    }
    bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) {
        return value_done();
    }
    bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) {
        return value_done();
    }
    bool on_double(double, json::string_view, boost::system::error_code&) { return value_done(); }
    bool on_bool(bool, boost::system::error_code&) { return value_done(); }
    bool on_null(boost::system::error_code&) { return value_done(); }
    bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(json::string_view, boost::system::error_code&) { return true; }

private:
    struct frame {
        bool is_object;
        std::string key;   // objects: the current member
        std::size_t index; // arrays: the current element
        std::set<std::string> keys;
    };

    bool value_done() {
        if (!frames_.empty() && !frames_.back().is_object)
            ++frames_.back().index;
        return true;
    }

    std::string path() const {
        std::string out;
        for (const frame& f : frames_)
            out = f.is_object ? child_path(out, f.key) : element_path(out, f.index);
        return out;
    }

    std::vector<frame> frames_;
    std::string key_;
};

// --- the parser ----------------------------------------------------------------------------------

using member_handler = std::function<void(const json::value&, const std::string& path)>;

struct member {
    std::string_view key;
    member_handler handle;
};

class config_parser {
public:
    config_parser(std::string_view source, const account_lookup& accounts)
        : source_(source)
        , accounts_(accounts) {}

    config_parse_result run(std::string_view text);

private:
    void fail(const std::string& path, std::string_view what);
    bool failed(const std::string& path) const { return failed_paths_.count(path) != 0; }

    // Calls the handler of each member in document order; unknown keys are errors.
    void members(const json::value& v, const std::string& path,
                 std::initializer_list<member> known);

    bool read_bool(const json::value& v, const std::string& path, bool& out);
    bool read_string(const json::value& v, const std::string& path, std::string& out);
    bool read_non_empty_string(const json::value& v, const std::string& path, std::string& out);
    std::optional<std::int64_t> read_integer(const json::value& v, const std::string& path,
                                             std::int64_t min, std::int64_t max,
                                             std::string_view unit);
    void read_ms(const json::value& v, const std::string& path, std::int64_t min,
                 std::chrono::milliseconds& out);
    void read_s(const json::value& v, const std::string& path, std::int64_t min,
                std::chrono::seconds& out);
    void read_count(const json::value& v, const std::string& path, std::size_t& out);
    void read_fraction(const json::value& v, const std::string& path, double lo, bool lo_inclusive,
                       double hi, std::string_view expected, double& out);
    void read_absolute_path(const json::value& v, const std::string& path, std::string& out);

    // Handlers for the plain members: each reads its value into `out` with the read_ function
    // of its type (`min`: the least value accepted).
    member_handler into(bool& out);
    member_handler into(std::string& out);
    member_handler into(std::size_t& out);
    member_handler into(std::chrono::milliseconds& out, std::int64_t min);
    member_handler into(std::chrono::seconds& out, std::int64_t min);

    void parse_root(const json::value& root);
    void parse_upstream(const json::value& v, const std::string& path);
    void parse_identity(const json::value& v, const std::string& path);
    void parse_listen(const json::value& v, const std::string& path);
    void parse_tcp(const json::value& v, const std::string& path);
    void parse_tokens(const json::value& v, const std::string& path);
    void parse_profile(const json::value& v, const std::string& path);
    void parse_customer_id(const json::value& v, const std::string& path, std::string& out);
    void parse_scopes(const json::value& v, const std::string& path,
                      std::optional<std::vector<std::string>>& out);
    void parse_refresh(const json::value& v, const std::string& path);
    void parse_on_demand(const json::value& v, const std::string& path);
    void parse_sink(const json::value& v, const std::string& path, std::optional<sink_config>& out);
    // Whether sink paths lie under the runtime or state directory; once every key is read.
    void check_sink_paths();
    void parse_allow(const json::value& v, const std::string& path,
                     std::optional<access_rule>& out);
    void parse_ids(const json::value& v, const std::string& path, bool users,
                   std::vector<std::uint32_t>& out);
    void parse_state(const json::value& v, const std::string& path);
    void parse_service(const json::value& v, const std::string& path);
    void parse_shared_cache(const json::value& v, const std::string& path);
    void parse_log(const json::value& v, const std::string& path);
    void parse_routes(const json::value& v, const std::string& path);
    void parse_route(const json::value& v, const std::string& path);
    void check_relations();

    std::string_view source_;
    const account_lookup& accounts_;
    config cfg_;
    std::vector<std::string> errors_;
    std::set<std::string> failed_paths_;

    // Facts kept for the checks that span keys, made once every key has been read.
    bool base_url_insecure_ = false;
    std::vector<std::pair<std::string, parsed_listen_address>> tcp_addresses_;
    std::map<std::string, std::size_t> profile_names_;
    std::optional<std::size_t> default_profile_index_;
    bool tokens_present_ = false;
    // Per route (in cfg_.routes order): its key path and whether its upstream is http://.
    std::vector<std::pair<std::string, bool>> route_facts_;
    bool max_waits_given_ = false;
    // Per profile with a sink (index in cfg_.tokens): the sink's key path.
    std::vector<std::pair<std::size_t, std::string>> sink_paths_;
};

void config_parser::fail(const std::string& path, std::string_view what) {
    std::string message(source_);
    message += ": ";
    if (!path.empty()) {
        message += path;
        message += ": ";
    }
    message += what;
    errors_.push_back(std::move(message));
    failed_paths_.insert(path);
}

void config_parser::members(const json::value& v, const std::string& path,
                            std::initializer_list<member> known) {
    const json::object* object = v.if_object();
    if (object == nullptr) {
        fail(path, "expected an object");
        return;
    }
    for (const auto& kv : *object) {
        const std::string_view key(kv.key().data(), kv.key().size());
        const std::string key_path = child_path(path, key);
        const auto match =
            std::find_if(known.begin(), known.end(), [&](const member& m) { return m.key == key; });
        if (match != known.end()) {
            match->handle(kv.value(), key_path);
            continue;
        }
        std::string what = "unknown key";
        const member* nearest = nullptr;
        std::size_t nearest_distance = 3; // suggest only near misses
        for (const member& m : known) {
            const std::size_t d = edit_distance(key, m.key);
            if (d < nearest_distance) {
                nearest = &m;
                nearest_distance = d;
            }
        }
        if (nearest != nullptr)
            what += " (did you mean " + std::string(nearest->key) + "?)";
        fail(key_path, what);
    }
}

member_handler config_parser::into(bool& out) {
    return [this, &out](const json::value& v, const std::string& p) {
        read_bool(v, p, out);
    };
}
member_handler config_parser::into(std::string& out) {
    return [this, &out](const json::value& v, const std::string& p) {
        read_string(v, p, out);
    };
}
member_handler config_parser::into(std::size_t& out) {
    return [this, &out](const json::value& v, const std::string& p) {
        read_count(v, p, out);
    };
}
member_handler config_parser::into(std::chrono::milliseconds& out, std::int64_t min) {
    return [this, &out, min](const json::value& v, const std::string& p) {
        read_ms(v, p, min, out);
    };
}
member_handler config_parser::into(std::chrono::seconds& out, std::int64_t min) {
    return [this, &out, min](const json::value& v, const std::string& p) {
        read_s(v, p, min, out);
    };
}

bool config_parser::read_bool(const json::value& v, const std::string& path, bool& out) {
    if (!v.is_bool()) {
        fail(path, "expected true or false");
        return false;
    }
    out = v.get_bool();
    return true;
}

bool config_parser::read_string(const json::value& v, const std::string& path, std::string& out) {
    if (!v.is_string()) {
        fail(path, "expected a string");
        return false;
    }
    out.assign(v.get_string().data(), v.get_string().size());
    return true;
}

bool config_parser::read_non_empty_string(const json::value& v, const std::string& path,
                                          std::string& out) {
    if (!v.is_string() || v.get_string().empty()) {
        fail(path, "expected a non-empty string");
        return false;
    }
    out.assign(v.get_string().data(), v.get_string().size());
    return true;
}

std::optional<std::int64_t> config_parser::read_integer(const json::value& v,
                                                        const std::string& path, std::int64_t min,
                                                        std::int64_t max, std::string_view unit) {
    std::optional<std::int64_t> value;
    if (v.is_int64())
        value = v.get_int64();
    else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(max))
        value = static_cast<std::int64_t>(v.get_uint64());
    else if (v.is_uint64())
        value = max + 1; // out of range: reported below
    if (!value || *value < min || *value > max) {
        std::string what =
            "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
        if (!unit.empty()) {
            what += " (";
            what += unit;
            what += ')';
        }
        fail(path, what);
        return std::nullopt;
    }
    return value;
}

void config_parser::read_ms(const json::value& v, const std::string& path, std::int64_t min,
                            std::chrono::milliseconds& out) {
    if (const auto value = read_integer(v, path, min, max_milliseconds, "milliseconds"))
        out = std::chrono::milliseconds(*value);
}

void config_parser::read_s(const json::value& v, const std::string& path, std::int64_t min,
                           std::chrono::seconds& out) {
    if (const auto value = read_integer(v, path, min, max_seconds, "seconds"))
        out = std::chrono::seconds(*value);
}

void config_parser::read_count(const json::value& v, const std::string& path, std::size_t& out) {
    if (const auto value = read_integer(v, path, 1, max_count, ""))
        out = static_cast<std::size_t>(*value);
}

void config_parser::read_fraction(const json::value& v, const std::string& path, double lo,
                                  bool lo_inclusive, double hi, std::string_view expected,
                                  double& out) {
    if (v.is_number()) {
        boost::system::error_code ec;
        const double d = v.to_number<double>(ec);
        if (!ec && std::isfinite(d) && (lo_inclusive ? d >= lo : d > lo) && d <= hi) {
            out = d;
            return;
        }
    }
    fail(path, expected);
}

void config_parser::read_absolute_path(const json::value& v, const std::string& path,
                                       std::string& out) {
    if (!v.is_string() || v.get_string().empty() || v.get_string().front() != '/') {
        fail(path, "expected an absolute path (starting with /)");
        return;
    }
    out.assign(v.get_string().data(), v.get_string().size());
}

void config_parser::parse_root(const json::value& root) {
    if (!root.is_object()) {
        fail("", "expected a JSON object at the top level");
        return;
    }
    members(root, "",
            {
                {"upstream",
                 [this](const auto& v, const auto& p) {
                     parse_upstream(v, p);
                 }},
                {"identity",
                 [this](const auto& v, const auto& p) {
                     parse_identity(v, p);
                 }},
                {"listen",
                 [this](const auto& v, const auto& p) {
                     parse_listen(v, p);
                 }},
                {"tokens",
                 [this](const auto& v, const auto& p) {
                     parse_tokens(v, p);
                 }},
                {"refresh",
                 [this](const auto& v, const auto& p) {
                     parse_refresh(v, p);
                 }},
                {"on_demand",
                 [this](const auto& v, const auto& p) {
                     parse_on_demand(v, p);
                 }},
                {"state",
                 [this](const auto& v, const auto& p) {
                     parse_state(v, p);
                 }},
                {"service",
                 [this](const auto& v, const auto& p) {
                     parse_service(v, p);
                 }},
                {"log",
                 [this](const auto& v, const auto& p) {
                     parse_log(v, p);
                 }},
                {"shared_cache",
                 [this](const auto& v, const auto& p) {
                     parse_shared_cache(v, p);
                 }},
                {"routes",
                 [this](const auto& v, const auto& p) {
                     parse_routes(v, p);
                 }},
            });
}

void config_parser::parse_on_demand(const json::value& v, const std::string& path) {
    auto& od = cfg_.on_demand;
    members(v, path,
            {
                {"enabled", into(od.enabled)},
                {"max_entries", into(od.max_entries)},
                {"max_bytes",
                 [&](const auto& v, const auto& p) {
                     if (const auto n =
                             read_integer(v, p, min_cache_bytes, max_cache_bytes, "bytes"))
                         od.max_bytes = static_cast<std::size_t>(*n);
                 }},
                {"idle_evict_s", into(od.idle_evict, 1)},
                {"allow",
                 [&](const auto& v, const auto& p) {
                     parse_allow(v, p, od.allow);
                 }},
            });
}

void config_parser::parse_allow(const json::value& v, const std::string& path,
                                std::optional<access_rule>& out) {
    if (v.is_null()) {
        out.reset();
        return;
    }
    if (!v.is_object()) {
        fail(path,
             "expected {\"users\": [...], \"groups\": [...]} (names or numeric ids), or null");
        return;
    }
    access_rule rule;
    members(v, path,
            {
                {"users",
                 [&](const auto& v, const auto& p) {
                     parse_ids(v, p, true, rule.uids);
                 }},
                {"groups",
                 [&](const auto& v, const auto& p) {
                     parse_ids(v, p, false, rule.gids);
                 }},
            });
    out = std::move(rule);
}

void config_parser::parse_ids(const json::value& v, const std::string& path, bool users,
                              std::vector<std::uint32_t>& out) {
    const char* what = users ? "user" : "group";
    const json::array* array = v.if_array();
    if (array == nullptr) {
        fail(path, std::string("expected an array of ") + what + " names or numeric ids");
        return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
        const std::string item_path = element_path(path, i);
        const json::value& item = (*array)[i];
        std::optional<std::uint32_t> id;
        if (item.is_int64() && item.get_int64() >= 0 && item.get_int64() <= 0xffffffffLL) {
            id = static_cast<std::uint32_t>(item.get_int64());
        } else if (item.is_uint64() && item.get_uint64() <= 0xffffffffULL) {
            id = static_cast<std::uint32_t>(item.get_uint64());
        } else if (item.is_string() && !item.get_string().empty()) {
            const std::string name(item.get_string());
            if (const auto n = parse_decimal(name, 0xffffffffULL)) {
                id = static_cast<std::uint32_t>(*n);
            } else {
                id = users ? accounts_.uid_of(name) : accounts_.gid_of(name);
                if (!id) {
                    fail(item_path, std::string("no ") + what + " named \"" + name +
                                        "\" on this host; expected a " + what +
                                        " name or a numeric id");
                    continue;
                }
            }
        } else {
            fail(item_path, std::string("expected a ") + what + " name or a numeric id");
            continue;
        }
        if (std::find(out.begin(), out.end(), *id) == out.end())
            out.push_back(*id);
    }
}

void config_parser::parse_state(const json::value& v, const std::string& path) {
    auto& st = cfg_.state;
    members(v, path,
            {
                {"persist", into(st.persist)},
                {"dir",
                 [&](const auto& v, const auto& p) {
                     read_absolute_path(v, p, st.dir);
                 }},
            });
}

void config_parser::parse_service(const json::value& v, const std::string& path) {
    auto& sv = cfg_.service;
    members(v, path,
            {
                {"startup_timeout_s", into(sv.startup_timeout, 1)},
                {"shutdown_grace_s", into(sv.shutdown_grace, 0)},
            });
}

void config_parser::parse_shared_cache(const json::value& v, const std::string& path) {
    shared_cache_config sc;
    bool has_url = false;
    const std::size_t errors_before = errors_.size();
    members(v, path,
            {
                {"url",
                 [&](const auto& v, const auto& p) {
                     has_url = true;
                     if (!read_non_empty_string(v, p, sc.url))
                         return;
                     redis_url_check check = parse_redis_url(sc.url);
                     if (!check.problem.empty())
                         fail(p, check.problem);
                     else
                         sc.endpoint = std::move(check.endpoint);
                 }},
                {"username", into(sc.username)},
                {"password_file", into(sc.password_file)},
                {"ca_file", into(sc.ca_file)},
                {"key_prefix", into(sc.key_prefix)},
                {"timeout_ms", into(sc.timeout, 1)},
                {"lease_ms", into(sc.lease, 1)},
            });
    if (!v.is_object())
        return;
    if (!has_url) {
        fail(child_path(path, "url"), "missing; expected the Redis URL (redis://, rediss:// or "
                                      "unix:/path)");
        return;
    }
    if (!sc.username.empty() && sc.password_file.empty() && !failed(child_path(path, "username")))
        fail(child_path(path, "password_file"),
             "missing; expected a password file when username is set (Redis ACL users log in "
             "with a password)");
    if (!sc.ca_file.empty() && sc.endpoint.transport != redis_endpoint::kind::tls &&
        !failed(child_path(path, "url")))
        fail(child_path(path, "ca_file"), "expected only with a rediss:// url (TLS)");
    if (errors_.size() == errors_before)
        cfg_.shared_cache = std::move(sc);
}

void config_parser::parse_routes(const json::value& v, const std::string& path) {
    const json::array* array = v.if_array();
    if (array == nullptr) {
        fail(path, "expected an array of routes");
        return;
    }
    for (std::size_t i = 0; i < array->size(); ++i)
        parse_route((*array)[i], element_path(path, i));
}

// A route prefix is one path segment between slashes, of characters that need no escaping:
// "/stats/". One segment each means two prefixes overlap exactly when they are equal.
bool valid_route_prefix(std::string_view p) {
    if (p.size() < 3 || p.front() != '/' || p.back() != '/')
        return false;
    const std::string_view name = p.substr(1, p.size() - 2);
    if (name == "." || name == "..")
        return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; });
}

void config_parser::parse_route(const json::value& v, const std::string& path) {
    if (!v.is_object()) {
        fail(path, "expected an object with prefix, upstream and token");
        return;
    }
    route_config r;
    bool insecure = false;
    bool has_prefix = false, has_upstream = false, has_token = false;
    const std::size_t errors_before = errors_.size();
    members(v, path,
            {
                {"prefix",
                 [&](const auto& v, const auto& p) {
                     has_prefix = true;
                     if (!read_string(v, p, r.prefix))
                         return;
                     if (!valid_route_prefix(r.prefix)) {
                         fail(p, "expected one path segment between slashes, of letters, digits, "
                                 "'-', '_' and '.', e.g. \"/stats/\"");
                         return;
                     }
                     for (std::size_t i = 0; i < cfg_.routes.size(); ++i)
                         if (cfg_.routes[i].prefix == r.prefix)
                             fail(p, "expected a prefix of its own; " + route_facts_[i].first +
                                         " has " + r.prefix + " already");
                 }},
                {"upstream",
                 [&](const auto& v, const auto& p) {
                     has_upstream = true;
                     std::string url;
                     if (!read_string(v, p, url))
                         return;
                     base_url_check check = check_base_url(url);
                     if (!check.problem.empty()) {
                         fail(p, check.problem);
                         return;
                     }
                     r.upstream = std::move(check.normalized);
                     insecure = check.insecure;
                 }},
                {"token",
                 [&](const auto& v, const auto& p) {
                     has_token = true;
                     read_non_empty_string(v, p, r.token);
                 }},
                {"ca_file", into(r.ca_file)},
                {"timeout_ms", into(r.timeout, 1)},
                {"max_body_bytes",
                 [&](const auto& v, const auto& p) {
                     if (const auto n = read_integer(v, p, 0, max_route_body_bytes, "bytes"))
                         r.max_body_bytes = static_cast<std::size_t>(*n);
                 }},
            });
    if (!has_prefix)
        fail(child_path(path, "prefix"), "missing; expected the local prefix, e.g. \"/stats/\"");
    if (!has_upstream)
        fail(child_path(path, "upstream"),
             "missing; expected the product API's base URL, e.g. \"https://api.example.com/v2/\"");
    if (!has_token)
        fail(child_path(path, "token"), "missing; expected the name of a profile in tokens[]");
    if (errors_.size() != errors_before)
        return;
    cfg_.routes.push_back(std::move(r));
    route_facts_.emplace_back(path, insecure);
}

void config_parser::parse_log(const json::value& v, const std::string& path) {
    members(v, path,
            {
                {"level",
                 [&](const auto& v, const auto& p) {
                     const json::string* s = v.if_string();
                     for (auto level :
                          {log_level::error, log_level::warn, log_level::info, log_level::debug}) {
                         if (s != nullptr && *s == to_string(level)) {
                             cfg_.log = level;
                             return;
                         }
                     }
                     fail(p, "expected one of \"error\", \"warn\", \"info\", \"debug\"");
                 }},
            });
}

void config_parser::parse_upstream(const json::value& v, const std::string& path) {
    auto& up = cfg_.upstream;
    members(v, path,
            {
                {"base_url",
                 [&](const auto& v, const auto& p) {
                     std::string url;
                     if (!read_string(v, p, url))
                         return;
                     base_url_check check = check_base_url(url);
                     if (!check.problem.empty()) {
                         fail(p, check.problem);
                         return;
                     }
                     up.base_url = std::move(check.normalized);
                     base_url_insecure_ = check.insecure;
                 }},
                {"ca_file", into(up.ca_file)},
                {"connect_timeout_ms", into(up.connect_timeout, 1)},
                {"request_timeout_ms", into(up.request_timeout, 1)},
                {"max_connections", into(up.max_connections)},
                {"idle_timeout_s", into(up.idle_timeout, 1)},
                {"allow_insecure_http", into(up.allow_insecure_http)},
            });
}

void config_parser::parse_identity(const json::value& v, const std::string& path) {
    std::string file;
    std::string env;
    bool has_file = false;
    bool has_env = false;
    const std::size_t errors_before = errors_.size();
    members(v, path,
            {
                {"user_identity_token_file",
                 [&](const auto& v, const auto& p) {
                     has_file = true;
                     read_non_empty_string(v, p, file);
                 }},
                {"user_identity_token_env",
                 [&](const auto& v, const auto& p) {
                     has_env = true;
                     read_non_empty_string(v, p, env);
                 }},
            });
    if (!v.is_object())
        return;
    if (has_file == has_env) {
        fail(path, has_file
                       ? "expected exactly one of user_identity_token_file and "
                         "user_identity_token_env, not both"
                       : "expected one of user_identity_token_file or user_identity_token_env");
        return;
    }
    if (errors_.size() == errors_before)
        cfg_.identity = identity_config{std::move(file), std::move(env), {}};
}

void config_parser::parse_listen(const json::value& v, const std::string& path) {
    auto& ls = cfg_.listen;
    members(v, path,
            {
                {"tcp",
                 [&](const auto& v, const auto& p) {
                     parse_tcp(v, p);
                 }},
                {"allow_remote", into(ls.allow_remote)},
                {"unix",
                 [&](const auto& v, const auto& p) {
                     std::string unix_path;
                     if (!read_string(v, p, unix_path))
                         return;
                     if (!unix_path.empty() && unix_path.front() != '/')
                         fail(p, "expected an absolute path (starting with /), or \"\" for no "
                                 "Unix socket");
                     else if (unix_path.size() > max_unix_path_length)
                         fail(p, "expected a path of at most " +
                                     std::to_string(max_unix_path_length) +
                                     " bytes (the limit of a Unix socket address)");
                     else
                         ls.unix_path = std::move(unix_path);
                 }},
                {"unix_mode",
                 [&](const auto& v, const auto& p) {
                     const json::string* s = v.if_string();
                     const bool octal = s != nullptr && !s->empty() && s->size() <= 4 &&
                                        std::all_of(s->begin(), s->end(),
                                                    [](char c) { return c >= '0' && c <= '7'; });
                     if (!octal) {
                         fail(p, "expected a string of octal digits from \"0000\" to \"0777\", "
                                 "e.g. \"0660\"");
                         return;
                     }
                     unsigned mode = 0;
                     for (char c : *s)
                         mode = mode * 8 + static_cast<unsigned>(c - '0');
                     if (mode > 0777) {
                         fail(p, "expected permission bits from \"0000\" to \"0777\", e.g. "
                                 "\"0660\"");
                         return;
                     }
                     ls.unix_mode = mode;
                 }},
                {"require_request_header", into(ls.require_request_header)},
                {"max_connections", into(ls.max_connections)},
                {"max_waits",
                 [&](const auto& v, const auto& p) {
                     max_waits_given_ = true;
                     read_count(v, p, ls.max_waits);
                 }},
                {"request_timeout_s", into(ls.request_timeout, 1)},
                {"keepalive_idle_s", into(ls.keepalive_idle, 1)},
            });
}

void config_parser::parse_tcp(const json::value& v, const std::string& path) {
    const json::array* array = v.if_array();
    if (array == nullptr) {
        fail(path, "expected an array of \"HOST:PORT\" strings ([] for no TCP listener)");
        return;
    }
    cfg_.listen.tcp.clear();
    for (std::size_t i = 0; i < array->size(); ++i) {
        const std::string item_path = element_path(path, i);
        const json::string* text = (*array)[i].if_string();
        std::optional<parsed_listen_address> parsed;
        if (text != nullptr)
            parsed = parse_listen_address(std::string_view(text->data(), text->size()));
        if (!parsed) {
            fail(item_path, listen_address_expected);
            continue;
        }
        // Two listeners on port 0 get two different ephemeral ports: not a conflict.
        const auto same =
            std::find_if(tcp_addresses_.begin(), tcp_addresses_.end(),
                         [&](const auto& seen) { return seen.second.address == parsed->address; });
        if (parsed->address.port != 0 && same != tcp_addresses_.end()) {
            fail(item_path, "expected each address once; this one is also " + same->first);
            continue;
        }
        cfg_.listen.tcp.push_back(parsed->address);
        tcp_addresses_.emplace_back(item_path, std::move(*parsed));
    }
}

void config_parser::parse_tokens(const json::value& v, const std::string& path) {
    const json::array* array = v.if_array();
    if (array == nullptr) {
        fail(path, "expected an array of profiles");
        return;
    }
    tokens_present_ = true;
    for (std::size_t i = 0; i < array->size(); ++i)
        parse_profile((*array)[i], element_path(path, i));
}

void config_parser::parse_profile(const json::value& v, const std::string& path) {
    if (!v.is_object()) {
        fail(path, "expected an object with name, product and customer_id");
        return;
    }
    profile_config profile;
    bool has_name = false;
    bool has_product = false;
    bool has_customer = false;
    members(v, path,
            {
                {"name",
                 [&](const auto& v, const auto& p) {
                     has_name = true;
                     const json::string* s = v.if_string();
                     const bool valid = s != nullptr && !s->empty() &&
                                        s->size() <= max_name_length &&
                                        std::all_of(s->begin(), s->end(), [](char c) {
                                            return is_alnum(c) || c == '.' || c == '_' || c == '-';
                                        });
                     if (!valid) {
                         fail(p, "expected a name of 1 to " + std::to_string(max_name_length) +
                                     " letters, digits, '.', '_' or '-'");
                         return;
                     }
                     std::string name(s->data(), s->size());
                     const auto [seen, inserted] = profile_names_.emplace(name, cfg_.tokens.size());
                     if (!inserted) {
                         fail(p, "expected a unique name; \"" + name + "\" is also tokens[" +
                                     std::to_string(seen->second) + "].name");
                         return;
                     }
                     profile.name = std::move(name);
                 }},
                {"product",
                 [&](const auto& v, const auto& p) {
                     has_product = true;
                     read_non_empty_string(v, p, profile.product);
                 }},
                {"customer_id",
                 [&](const auto& v, const auto& p) {
                     has_customer = true;
                     parse_customer_id(v, p, profile.customer_id);
                 }},
                {"scopes",
                 [&](const auto& v, const auto& p) {
                     parse_scopes(v, p, profile.scopes);
                 }},
                {"allow",
                 [&](const auto& v, const auto& p) {
                     parse_allow(v, p, profile.allow);
                 }},
                {"sink",
                 [&](const auto& v, const auto& p) {
                     parse_sink(v, p, profile.sink);
                     if (profile.sink)
                         sink_paths_.emplace_back(cfg_.tokens.size(), p);
                 }},
                {"default",
                 [&](const auto& v, const auto& p) {
                     if (!read_bool(v, p, profile.is_default) || !profile.is_default)
                         return;
                     if (default_profile_index_) {
                         fail(p, "expected at most one default profile; tokens[" +
                                     std::to_string(*default_profile_index_) +
                                     "] is already the default");
                         profile.is_default = false;
                         return;
                     }
                     default_profile_index_ = cfg_.tokens.size();
                 }},
            });
    if (!has_name)
        fail(child_path(path, "name"), "missing; expected the profile's name");
    if (!has_product)
        fail(child_path(path, "product"), "missing; expected the product, e.g. \"synergy-stats\"");
    if (!has_customer)
        fail(child_path(path, "customer_id"), "missing; expected a string or a number");
    // Kept even when invalid, so that later profiles' indexes in messages stay right.
    cfg_.tokens.push_back(std::move(profile));
}

void config_parser::parse_customer_id(const json::value& v, const std::string& path,
                                      std::string& out) {
    switch (customer_id_from_json(v, out)) {
    case customer_id_problem::none:
        break;
    case customer_id_problem::empty_string:
        fail(path, "expected a non-empty string or a number");
        break;
    case customer_id_problem::not_a_whole_number:
        fail(path, "expected a string or a non-negative integer");
        break;
    case customer_id_problem::not_a_string_or_number:
        fail(path, "expected a string or a number");
        break;
    }
}

void config_parser::parse_sink(const json::value& v, const std::string& path,
                               std::optional<sink_config>& out) {
    if (!v.is_object()) {
        fail(path, "expected an object with path, and optionally mode and format");
        return;
    }
    sink_config sink;
    bool has_path = false;
    bool ok = true;
    members(v, path,
            {
                {"path",
                 [&](const auto& v, const auto& p) {
                     has_path = true;
                     std::string text;
                     if (!read_non_empty_string(v, p, text)) {
                         ok = false;
                         return;
                     }
                     const bool dot_segment = text.find("/./") != std::string::npos ||
                                              text.find("/../") != std::string::npos ||
                                              text.ends_with("/.") || text.ends_with("/..");
                     if (text.front() != '/' || text.back() == '/' ||
                         text.find("//") != std::string::npos || dot_segment ||
                         text.find('\0') != std::string::npos) {
                         fail(p, "expected an absolute file path without . or .. segments, e.g. "
                                 "\"/run/synergy-tokend/stats.token\"");
                         ok = false;
                         return;
                     }
                     sink.path = std::move(text);
                 }},
                {"mode",
                 [&](const auto& v, const auto& p) {
                     const json::string* s = v.if_string();
                     const bool octal = s != nullptr && !s->empty() && s->size() <= 4 &&
                                        std::all_of(s->begin(), s->end(),
                                                    [](char c) { return c >= '0' && c <= '7'; });
                     unsigned mode = 0;
                     if (octal)
                         for (char c : *s)
                             mode = mode * 8 + static_cast<unsigned>(c - '0');
                     if (!octal || mode > 0777 || (mode & 0400) == 0) {
                         fail(p, "expected a string of octal permission bits from \"0400\" to "
                                 "\"0777\" that let the owner read, e.g. \"0640\"");
                         ok = false;
                         return;
                     }
                     sink.mode = mode;
                 }},
                {"format",
                 [&](const auto& v, const auto& p) {
                     const json::string* s = v.if_string();
                     if (s != nullptr && *s == "token")
                         sink.fmt = sink_config::format::token;
                     else if (s != nullptr && *s == "json")
                         sink.fmt = sink_config::format::json;
                     else {
                         fail(p, "expected \"token\" or \"json\"");
                         ok = false;
                     }
                 }},
            });
    if (!has_path) {
        fail(child_path(path, "path"), "missing; expected the file to write the token to");
        ok = false;
    }
    if (ok)
        out = std::move(sink);
}

void config_parser::check_sink_paths() {
    // The daemon's own directories: what the unit's sandbox lets it write.
    std::vector<std::string> roots = {"/run/synergy-tokend", "/var/lib/synergy-tokend",
                                      cfg_.state.dir};
    if (const auto slash = cfg_.listen.unix_path.rfind('/');
        slash != std::string::npos && slash > 0)
        roots.push_back(cfg_.listen.unix_path.substr(0, slash));
    for (const char* var : {"RUNTIME_DIRECTORY", "STATE_DIRECTORY"}) {
        const char* value = std::getenv(var); // systemd's RuntimeDirectory=, StateDirectory=
        std::string_view list = value != nullptr ? value : "";
        while (!list.empty()) {
            const auto colon = list.find(':');
            if (!list.substr(0, colon).empty())
                roots.emplace_back(list.substr(0, colon));
            list = colon == std::string_view::npos ? std::string_view{} : list.substr(colon + 1);
        }
    }
    std::map<std::string, std::string> seen; // sink path -> key path
    for (const auto& [index, key] : sink_paths_) {
        const std::string& path = cfg_.tokens[index].sink->path;
        const bool under = std::any_of(roots.begin(), roots.end(), [&](std::string root) {
            while (root.size() > 1 && root.back() == '/')
                root.pop_back();
            return root.size() > 1 && path.size() > root.size() + 1 && path.starts_with(root) &&
                   path[root.size()] == '/';
        });
        const std::string path_key = child_path(key, "path");
        if (!under) {
            std::string list;
            for (const auto& r : roots)
                list += (list.empty() ? "" : ", ") + r;
            fail(path_key, "expected a path under the runtime or state directory (" + list + ")");
        } else if (path == cfg_.listen.unix_path || path == cfg_.state.dir + "/tokens.json") {
            fail(path_key, "expected a file of its own, not the daemon's socket or state file");
        } else if (auto [it, fresh] = seen.emplace(path, path_key); !fresh) {
            fail(path_key, "expected a file of its own; " + it->second + " names it too");
        }
    }
}

void config_parser::parse_scopes(const json::value& v, const std::string& path,
                                 std::optional<std::vector<std::string>>& out) {
    const json::array* array = v.if_array();
    if (array == nullptr) {
        fail(path, "expected an array of scope strings (omit the key for all scopes)");
        return;
    }
    std::vector<std::string> scopes;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const std::string item_path = element_path(path, i);
        std::string scope;
        if (!read_non_empty_string((*array)[i], item_path, scope))
            continue;
        const auto same = std::find(scopes.begin(), scopes.end(), scope);
        if (same != scopes.end()) {
            fail(item_path,
                 "expected each scope once; \"" + scope + "\" is also " +
                     element_path(path, static_cast<std::size_t>(same - scopes.begin())));
            continue;
        }
        scopes.push_back(std::move(scope));
    }
    out = std::move(scopes);
}

void config_parser::parse_refresh(const json::value& v, const std::string& path) {
    auto& rf = cfg_.refresh;
    members(v, path,
            {
                {"refresh_at",
                 [&](const auto& v, const auto& p) {
                     read_fraction(v, p, 0.0, false, 1.0,
                                   "expected a number greater than 0 and at most 1 (a fraction "
                                   "of the lifetime)",
                                   rf.refresh_at);
                 }},
                {"min_remaining_s", into(rf.min_remaining, 0)},
                {"jitter",
                 [&](const auto& v, const auto& p) {
                     read_fraction(v, p, 0.0, true, 0.5,
                                   "expected a number from 0 to 0.5 (a fraction of the lifetime)",
                                   rf.jitter);
                 }},
                {"retry_initial_ms", into(rf.retry_initial, 1)},
                {"retry_max_ms", into(rf.retry_max, 1)},
                {"default_lifetime_s", into(rf.default_lifetime, 1)},
                {"min_serve_remaining_s", into(rf.min_serve_remaining, 0)},
            });
}

// Checks between keys run after every key was read (allow_remote may follow tcp, and so on), and
// only when the keys involved were valid themselves, so that one mistake gives one message.
void config_parser::check_relations() {
    if (base_url_insecure_ && !cfg_.upstream.allow_insecure_http &&
        !failed("upstream.allow_insecure_http"))
        fail("upstream.base_url", "expected an https:// URL; http:// is refused unless "
                                  "upstream.allow_insecure_http is true (test upstreams only)");

    if (!cfg_.listen.allow_remote && !failed("listen.allow_remote")) {
        for (const auto& [path, parsed] : tcp_addresses_) {
            if (!parsed.loopback)
                fail(path, "expected a loopback address (127.0.0.0/8, [::1] or localhost); the "
                           "daemon refuses to listen on " +
                               parsed.address.host +
                               ": set listen.allow_remote to true to allow it");
        }
    }

    check_sink_paths();
    auto& ls = cfg_.listen;
    if (!max_waits_given_)
        ls.max_waits = std::max<std::size_t>(1, ls.max_connections / 2);
    else if (!failed("listen.max_waits") && !failed("listen.max_connections") &&
             ls.max_waits > ls.max_connections)
        fail("listen.max_waits", "expected at most listen.max_connections (" +
                                     std::to_string(ls.max_connections) + ")");

    const auto& rf = cfg_.refresh;
    if (!failed("refresh.min_serve_remaining_s") && !failed("refresh.min_remaining_s") &&
        rf.min_serve_remaining >= rf.min_remaining)
        fail("refresh.min_serve_remaining_s", "expected less than refresh.min_remaining_s (" +
                                                  std::to_string(rf.min_remaining.count()) + ")");
    if (!failed("refresh.retry_initial_ms") && !failed("refresh.retry_max_ms") &&
        rf.retry_initial > rf.retry_max)
        fail("refresh.retry_initial_ms", "expected at most refresh.retry_max_ms (" +
                                             std::to_string(rf.retry_max.count()) + ")");

    for (std::size_t i = 0; i < cfg_.routes.size(); ++i) {
        const auto& [path, insecure] = route_facts_[i];
        if (insecure && !cfg_.upstream.allow_insecure_http &&
            !failed("upstream.allow_insecure_http"))
            fail(child_path(path, "upstream"),
                 "expected an https:// URL; http:// is refused unless upstream.allow_insecure_http "
                 "is true (test upstreams only)");
        if (!failed("tokens") && profile_names_.count(cfg_.routes[i].token) == 0)
            fail(child_path(path, "token"), "expected the name of a profile in tokens[]; there is "
                                            "no profile \"" +
                                                cfg_.routes[i].token + "\"");
    }

    if (cfg_.tokens.empty() && !cfg_.on_demand.enabled && !failed("on_demand.enabled") &&
        !failed("tokens"))
        fail("tokens", tokens_present_
                           ? "expected at least one profile when on_demand.enabled is false"
                           : "missing; expected at least one profile when on_demand.enabled is "
                             "false");
}

config_parse_result config_parser::run(std::string_view text) {
    // Some editors start UTF-8 files with a byte order mark, which JSON does not allow.
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
    if (text.substr(0, utf8_bom.size()) == utf8_bom)
        text.remove_prefix(utf8_bom.size());
    json::parse_options options;
    options.allow_comments = true;
    options.allow_trailing_commas = true;

    json::stream_parser parser(json::storage_ptr(), options);
    boost::system::error_code ec;
    const std::size_t consumed = parser.write(text.data(), text.size(), ec);
    if (!ec)
        parser.finish(ec);
    if (ec) {
        // On failure, write() returns the offset at which parsing stopped; a premature end is
        // reported by finish() at the end of the text.
        const std::size_t offset =
            std::min(ec == json::error::incomplete ? text.size() : consumed, text.size());
        const std::string_view before = text.substr(0, offset);
        const std::size_t line =
            1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
        const auto line_start = before.rfind('\n');
        const std::string_view line_text =
            before.substr(line_start == std::string_view::npos ? 0 : line_start + 1);
        // Columns count characters, not bytes: UTF-8 continuation bytes are skipped.
        const std::size_t column =
            1 +
            static_cast<std::size_t>(std::count_if(line_text.begin(), line_text.end(), [](char c) {
                return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
            }));
        errors_.push_back(std::string(source_) + ":" + std::to_string(line) + ":" +
                          std::to_string(column) + ": invalid JSON: " + ec.message());
        return {cfg_, std::move(errors_)};
    }
    const json::value root = parser.release();

    json::basic_parser<duplicate_key_finder> scanner(options);
    scanner.write_some(false, text.data(), text.size(), ec);
    for (const std::string& path : scanner.handler().duplicates)
        fail(path, "duplicate key; expected each key once in an object");

    parse_root(root);
    if (root.is_object())
        check_relations();
    return {std::move(cfg_), std::move(errors_)};
}

} // namespace

const profile_config* config::default_profile() const {
    for (const profile_config& profile : tokens)
        if (profile.is_default)
            return &profile;
    return tokens.size() == 1 ? &tokens.front() : nullptr;
}

bool same_token(const profile_config& a, const profile_config& b) {
    return a.name == b.name && a.product == b.product && a.customer_id == b.customer_id &&
           same_scopes(a.scopes, b.scopes);
}

config_parse_result parse_config(std::string_view text, std::string_view source,
                                 const account_lookup& accounts) {
    return config_parser(source, accounts).run(text);
}

config_parse_result load_config_file(const std::string& path) {
    const auto slash = path.rfind('/');
    std::string source = slash == std::string::npos ? path : path.substr(slash + 1);
    if (source.empty())
        source = path;

    auto cannot_read = [&](const std::string& reason) {
        config_parse_result result;
        result.errors.push_back(path + ": cannot read: " + reason);
        return result;
    };
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file)
        return cannot_read(std::strerror(errno));
    std::string text;
    char buffer[8192];
    for (;;) {
        const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
        text.append(buffer, n);
        if (text.size() > max_file_size)
            return cannot_read("larger than " + std::to_string(max_file_size / 1024) + " KiB");
        if (n < sizeof buffer) {
            if (std::ferror(file.get()))
                return cannot_read(std::strerror(errno));
            break;
        }
    }
    auto result = parse_config(text, source);
    // A relative identity token file is found beside the configuration, whatever the working
    // directory (after $CREDENTIALS_DIRECTORY, see identity_config).
    result.value.identity.base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (result.value.identity.base_dir.empty())
        result.value.identity.base_dir = "/";
    return result;
}

const char* to_string(log_level level) {
    switch (level) {
    case log_level::error:
        return "error";
    case log_level::warn:
        return "warn";
    case log_level::info:
        return "info";
    case log_level::debug:
        return "debug";
    }
    return "info";
}

} // namespace synergy_tokend
