#include "synergy_tokend/upstream_stats.hpp"

namespace synergy_tokend {

void latency_histogram::observe(std::chrono::microseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    for (std::size_t i = 0; i < bounds_s.size(); ++i) {
        if (s <= bounds_s[i]) {
            ++bucket_counts[i];
            break;
        }
    }
    ++count;
    sum_s += s;
}

} // namespace synergy_tokend
