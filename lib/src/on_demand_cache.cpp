#include "synergy_tokend/on_demand_cache.hpp"

namespace synergy_tokend {

namespace {

// What an entry costs beyond its strings and sizeof(on_demand_entry): the unordered_map node and
// its bucket, the LRU list node, the shared_ptr control block, and a 16-byte allocator header on
// each of those allocations and on each string buffer.
constexpr std::size_t on_demand_entry_overhead = 256;

} // namespace

on_demand_cache::entry_ptr on_demand_cache::find(const std::string& key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second;
}

on_demand_cache::entry_ptr on_demand_cache::insert(const std::string& key, on_demand_entry fields,
                                                   steady_time now, std::size_t max_entries,
                                                   std::size_t max_bytes) {
    evict(max_entries == 0 ? 0 : max_entries - 1, max_bytes);
    auto e = std::make_shared<on_demand_entry>(std::move(fields));
    lru_.push_front(key);
    e->lru_position = lru_.begin();
    e->last_used = now;
    e->cached = true;
    entries_.emplace(key, e);
    account(*e);
    return e;
}

void on_demand_cache::touch(on_demand_entry& e, steady_time now) {
    if (!e.cached)
        return;
    e.last_used = now;
    lru_.splice(lru_.begin(), lru_, e.lru_position);
}

void on_demand_cache::account(on_demand_entry& e) {
    if (!e.cached)
        return; // evicted while its attempt was in flight
    std::size_t strings = e.product.capacity() + e.customer_id.capacity() +
                          e.last_error.capacity() + 2 * e.lru_position->capacity();
    if (e.scopes)
        for (const auto& scope : *e.scopes)
            strings += scope.capacity() + sizeof(std::string);
    if (e.current)
        strings += e.current->token.capacity() + e.current->token_type.capacity();
    if (e.last_http_error)
        strings += e.last_http_error->body.capacity() + e.last_http_error->content_type.capacity() +
                   e.last_http_error->reason.capacity() + e.last_http_error->retry_after.capacity();
    const std::size_t bytes = strings + sizeof(on_demand_entry) + on_demand_entry_overhead;
    bytes_ = bytes_ - e.accounted_bytes + bytes;
    e.accounted_bytes = bytes;
}

void on_demand_cache::erase(std::unordered_map<std::string, entry_ptr>::iterator it) {
    on_demand_entry& e = *it->second;
    bytes_ -= e.accounted_bytes;
    e.accounted_bytes = 0;
    e.cached = false;
    lru_.erase(e.lru_position);
    entries_.erase(it);
}

void on_demand_cache::evict(std::size_t max_entries, std::size_t max_bytes) {
    while (!lru_.empty() && (entries_.size() > max_entries || bytes_ > max_bytes))
        erase(entries_.find(lru_.back()));
}

void on_demand_cache::sweep(steady_time cutoff) {
    // The LRU list is ordered by last use: the idle entries are at its back.
    while (!lru_.empty()) {
        auto it = entries_.find(lru_.back());
        if (it->second->last_used > cutoff)
            break;
        erase(it);
    }
}

void on_demand_cache::for_each(const std::function<void(on_demand_entry&)>& f) const {
    for (const auto& [key, e] : entries_)
        f(*e);
}

} // namespace synergy_tokend
