#include "synergy_tokend/state_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace synergy_tokend {

namespace json = boost::json;

namespace {

constexpr int state_version = 1;
constexpr std::size_t max_state_size = 16 * 1024 * 1024;

long long epoch_seconds(wall_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

} // namespace

std::string state_file_path(const std::string& dir) {
    return dir + "/tokens.json";
}

std::string serialize_state(const std::vector<persisted_token>& tokens) {
    json::array list;
    for (const auto& t : tokens) {
        json::object o;
        o["profile"] = t.profile;
        o["product"] = t.product;
        o["customerId"] = t.customer_id;
        if (t.scopes) {
            json::array scopes;
            for (const auto& s : *t.scopes)
                scopes.emplace_back(s);
            o["scopes"] = std::move(scopes);
        } else {
            o["scopes"] = nullptr;
        }
        o["identitySha256"] = t.identity_sha256;
        o["token"] = t.token;
        o["tokenType"] = t.token_type;
        o["issuedAt"] = epoch_seconds(t.issued_at);
        o["lifetime"] = t.lifetime.count();
        list.emplace_back(std::move(o));
    }
    json::object root;
    root["version"] = state_version;
    root["tokens"] = std::move(list);
    return json::serialize(root);
}

std::optional<std::vector<persisted_token>> parse_state(std::string_view text, std::string& error) {
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec) {
        error = "not JSON (" + ec.message() + ")";
        return std::nullopt;
    }
    const json::object* obj = root.if_object();
    const json::value* version = obj ? obj->if_contains("version") : nullptr;
    if (version == nullptr || !version->is_int64() || version->as_int64() != state_version) {
        error = "unknown format (expected version " + std::to_string(state_version) + ")";
        return std::nullopt;
    }
    const json::value* list = obj->if_contains("tokens");
    if (list == nullptr || !list->is_array()) {
        error = "no tokens array";
        return std::nullopt;
    }
    std::vector<persisted_token> out;
    for (const auto& item : list->as_array()) {
        const json::object* t = item.if_object();
        auto str = [&](const char* key) -> const json::string* {
            const json::value* v = t ? t->if_contains(key) : nullptr;
            return v && v->is_string() ? &v->as_string() : nullptr;
        };
        auto integer = [&](const char* key) -> std::optional<long long> {
            const json::value* v = t ? t->if_contains(key) : nullptr;
            if (v && v->is_int64())
                return v->as_int64();
            return std::nullopt;
        };
        const auto issued = integer("issuedAt");
        const auto lifetime = integer("lifetime");
        if (!str("profile") || !str("product") || !str("customerId") || !str("identitySha256") ||
            !str("token") || !str("tokenType") || !issued || !lifetime || *lifetime <= 0 ||
            *issued < 0) {
            error = "a token entry is incomplete";
            return std::nullopt;
        }
        persisted_token p;
        p.profile = std::string(*str("profile"));
        p.product = std::string(*str("product"));
        p.customer_id = std::string(*str("customerId"));
        p.identity_sha256 = std::string(*str("identitySha256"));
        p.token = std::string(*str("token"));
        p.token_type = std::string(*str("tokenType"));
        p.issued_at = wall_clock::time_point(std::chrono::seconds(*issued));
        p.lifetime = std::chrono::seconds(*lifetime);
        if (const json::value* scopes = t->if_contains("scopes"); scopes && scopes->is_array()) {
            std::vector<std::string> list_of;
            for (const auto& s : scopes->as_array()) {
                if (!s.is_string()) {
                    error = "scopes must be strings";
                    return std::nullopt;
                }
                list_of.emplace_back(s.as_string());
            }
            p.scopes = std::move(list_of);
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::string write_state_file(const std::string& dir, const std::vector<persisted_token>& tokens) {
    const std::string path = state_file_path(dir);
    const std::string temp = path + ".tmp";
    const std::string content = serialize_state(tokens);
    ::unlink(temp.c_str()); // a leftover from a crash
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno_text(("cannot create " + temp).c_str());
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const std::string e = errno_text(("cannot write " + temp).c_str());
            ::close(fd);
            ::unlink(temp.c_str());
            return e;
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const std::string e = errno_text(("cannot fsync " + temp).c_str());
        ::close(fd);
        ::unlink(temp.c_str());
        return e;
    }
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string e = errno_text(("cannot rename " + temp).c_str());
        ::unlink(temp.c_str());
        return e;
    }
    // The rename itself must survive a crash: sync the directory entry.
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

std::string read_state_file(const std::string& dir, std::vector<persisted_token>& tokens) {
    const std::string path = state_file_path(dir);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return {};
        return errno_text(path.c_str());
    }
    struct stat st {};
    std::string error;
    if (::fstat(fd, &st) != 0) {
        error = errno_text(path.c_str());
    } else if (!S_ISREG(st.st_mode)) {
        error = path + ": not a regular file";
    } else if (st.st_uid != ::geteuid()) {
        error = path + ": owned by uid " + std::to_string(st.st_uid) + ", not by this process";
    } else if ((st.st_mode & 077) != 0) {
        error = path + ": readable or writable by others (mode must be 0600)";
    } else if (static_cast<std::size_t>(st.st_size) > max_state_size) {
        error = path + ": too large";
    }
    std::string content;
    if (error.empty()) {
        content.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < content.size()) {
            const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        content.resize(got);
    }
    ::close(fd);
    if (!error.empty())
        return error;
    std::string parse_error;
    auto parsed = parse_state(content, parse_error);
    if (!parsed)
        return path + ": " + parse_error;
    tokens = std::move(*parsed);
    return {};
}

} // namespace synergy_tokend
