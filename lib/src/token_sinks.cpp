#include "synergy_tokend/token_sinks.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "synergy_tokend/log.hpp"
#include "synergy_tokend/router.hpp"
#include "synergy_tokend/token_store.hpp"

namespace synergy_tokend {

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::chrono::seconds retry_after_failure{5};

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == 0 ? std::string("/") : path.substr(0, slash);
}

std::string sync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_text("cannot open its directory");
    const bool ok = ::fsync(fd) == 0;
    const std::string problem = ok ? std::string() : errno_text("cannot sync its directory");
    ::close(fd);
    return problem;
}

} // namespace

std::string sink_content(sink_config::format fmt, const token_value& t,
                         wall_clock::time_point now) {
    if (fmt == sink_config::format::token)
        return t.token;
    json::object data;
    data["token"] = t.token;
    data["tokenType"] = t.token_type;
    data["expiresIn"] = whole_seconds_until(t.expires_at, now);
    data["expiresAt"] = format_rfc3339(t.expires_at);
    return data_envelope(200, json::serialize(data), format_rfc3339(now));
}

std::string write_file_atomically(const std::string& path, const std::string& content,
                                  unsigned mode) {
    const std::string dir = directory_of(path);
    const std::string temp = dir + "/." + path.substr(dir.size() + (dir == "/" ? 0 : 1)) + ".tmp." +
                             std::to_string(::getpid());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                          static_cast<mode_t>(mode));
    if (fd < 0)
        return errno_text("cannot create the temporary file");
    std::string problem;
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) // the umask must not narrow the mode
        problem = errno_text("cannot set its mode");
    for (std::size_t done = 0; problem.empty() && done < content.size();) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            problem = errno_text("cannot write");
        else
            done += static_cast<std::size_t>(n);
    }
    if (problem.empty() && ::fsync(fd) != 0)
        problem = errno_text("cannot sync");
    if (::close(fd) != 0 && problem.empty())
        problem = errno_text("cannot close");
    if (problem.empty() && ::rename(temp.c_str(), path.c_str()) != 0)
        problem = errno_text("cannot rename the temporary file over it");
    if (!problem.empty()) {
        ::unlink(temp.c_str());
        return problem;
    }
    return sync_directory(dir);
}

std::string remove_file_durably(const std::string& path) {
    if (::unlink(path.c_str()) != 0)
        return errno == ENOENT ? std::string() : errno_text("cannot remove");
    return sync_directory(directory_of(path));
}

token_sinks::token_sinks(asio::any_io_executor ex, token_store& store, const config& cfg)
    : ex_(std::move(ex))
    , store_(store)
    , cfg_(cfg) {}

const sink_config* token_sinks::sink_of(const std::string& name) const {
    for (const auto& p : cfg_.tokens)
        if (p.name == name)
            return p.sink ? &*p.sink : nullptr;
    return nullptr;
}

void token_sinks::start() {
    reload();
}

void token_sinks::reload() {
    for (const auto& p : cfg_.tokens) {
        if (!p.sink)
            continue;
        if (following_.insert(p.name).second)
            asio::co_spawn(ex_, follow(this, p.name), asio::detached);
    }
    for (const auto& name : following_)
        store_.changes().changed(name); // look at the configuration again
}

asio::awaitable<void> token_sinks::follow(token_sinks* self, std::string name) {
    const std::string subject = "profile " + name + ": sink ";
    std::optional<sink_config> written; // what the file on disk was written as
    std::string written_token;
    auto failed = [&](const std::string& path, const std::string& problem) {
        ++self->counts_[name].failures;
        log::warn("token_sinks", subject + path + ": " + problem + "; retrying in 5 s");
    };
    auto remove = [&]() -> bool {
        if (const std::string problem = remove_file_durably(written->path); !problem.empty()) {
            failed(written->path, problem);
            return false;
        }
        log::info("token_sinks", subject + written->path + " removed");
        written.reset();
        written_token.clear();
        return true;
    };
    for (;;) {
        bool retry = false;
        const sink_config* sink = self->sink_of(name);
        if (written && (sink == nullptr || sink->path != written->path))
            retry = !remove();
        if (sink == nullptr && !written) {
            self->following_.erase(name);
            co_return;
        }
        const auto now = wall_clock::now();
        const token_value* t = sink ? self->store_.servable_now(name, now) : nullptr;
        auto wake = steady::time_point::max();
        if (sink != nullptr && t == nullptr && written) {
            retry = !remove() || retry;
        } else if (sink != nullptr && t != nullptr) {
            if (!written || *written != *sink || written_token != t->token) {
                const std::string problem =
                    write_file_atomically(sink->path, sink_content(sink->fmt, *t, now), sink->mode);
                if (problem.empty()) {
                    ++self->counts_[name].writes;
                    if (!written)
                        log::info("token_sinks", subject + sink->path + " written");
                    written = *sink;
                    written_token = t->token;
                } else {
                    failed(sink->path, problem);
                    retry = true;
                }
            }
            const auto servable_for = std::chrono::duration_cast<steady::duration>(
                t->expires_at - self->cfg_.refresh.min_serve_remaining - now);
            wake = steady::now() + servable_for + std::chrono::milliseconds(1);
        }
        if (retry)
            wake = std::min(wake, steady::now() + retry_after_failure);
        if (co_await self->store_.changes().wait(name, wake) == token_changes::woke::stopped) {
            self->following_.erase(name);
            co_return; // the files stay: they are valid across a restart
        }
    }
}

} // namespace synergy_tokend
