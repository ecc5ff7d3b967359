#include "synergy_tokend/identity_source.hpp"
#include "synergy_tokend/text.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace synergy_tokend {
identity_source::identity_source(identity_config cfg)
    : cfg_(std::move(cfg)) {}

std::string identity_source::describe() const {
    if (!cfg_.token_env.empty())
        return "environment variable " + cfg_.token_env;
    return "file " + resolve_path();
}

namespace {
// Whether the file exists and holds more than white space: the unit's stand-in for a credential
// whose file is missing is a lone newline (SetCredential=identity-token:\n).
bool holds_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char buffer[256];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        if (!trim(std::string_view(buffer, static_cast<std::size_t>(in.gcount()))).empty())
            return true;
    }
    return false;
}
} // namespace

std::string identity_source::resolve_path() const {
    const std::string& name = cfg_.token_file;
    if (!name.empty() && name.front() != '/') {
        if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir && *dir) {
            std::string candidate = std::string(dir) + "/" + name;
            if (holds_text(candidate))
                return candidate;
        }
        if (!cfg_.base_dir.empty())
            return cfg_.base_dir + (cfg_.base_dir.back() == '/' ? "" : "/") + name;
    }
    return name;
}

namespace {
std::string cannot_read(const std::string& path, int error) {
    if (error == ENOENT)
        return "identity token file " + path + " missing";
    std::string message = "identity token file " + path + ": " + std::strerror(error);
    // Under the unit the service cannot read the root-only file itself: it comes as a
    // credential, which systemd hands over at start only.
    if (error == EACCES && std::getenv("CREDENTIALS_DIRECTORY") != nullptr)
        message += " (delivered as a credential at start: restart the service)";
    return message;
}
} // namespace

identity_read identity_source::get(bool force_reread) {
    if (!cfg_.token_env.empty()) {
        const char* value = std::getenv(cfg_.token_env.c_str());
        if (value == nullptr)
            return {{}, "environment variable " + cfg_.token_env + " is not set"};
        std::string token(trim(value));
        if (token.empty())
            return {{}, "environment variable " + cfg_.token_env + " is empty"};
        return {std::move(token), {}};
    }

    const std::string path = resolve_path();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        loaded_ = false;
        return {{}, cannot_read(path, errno)};
    }
    const bool unchanged = loaded_ && path == cached_path_ &&
                           st.st_mtim.tv_sec == cached_mtime_.tv_sec &&
                           st.st_mtim.tv_nsec == cached_mtime_.tv_nsec &&
                           static_cast<long long>(st.st_size) == cached_size_;
    if (unchanged && !force_reread)
        return cached_;

    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int error = errno;
        loaded_ = false;
        return {{}, cannot_read(path, error)};
    }
    std::ostringstream content;
    content << in.rdbuf();
    identity_read result;
    result.token = std::string(trim(content.str()));
    if (result.token.empty())
        result.error = "identity token file " + path + " is empty";
    cached_ = result;
    cached_path_ = path;
    cached_mtime_ = st.st_mtim;
    cached_size_ = static_cast<long long>(st.st_size);
    loaded_ = true;
    return result;
}

} // namespace synergy_tokend
