// libFuzzer target: the configuration parser must never crash, hang or throw, whatever the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "synergy_tokend/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = synergy_tokend::parse_config(text);
    // A valid result must be internally consistent.
    if (result.ok() &&
        result.value.refresh.min_serve_remaining >= result.value.refresh.min_remaining)
        __builtin_trap();
    return 0;
}
