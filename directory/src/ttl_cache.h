// TtlCache: a size-bounded LRU map whose entries expire after a TTL read from an
// injected clock. (Poco's ExpireLRUCache reads the wall clock, which tests cannot
// move; this one lets expiry tests run without sleeping.) Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace keyholder::directory::detail {

template <typename V> class TtlCache {
public:
    TtlCache(size_t capacity, int64_t ttl_seconds, std::function<int64_t()> now)
        : capacity_(capacity), ttl_(ttl_seconds), now_(std::move(now)) {}

    std::optional<V> get(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto found = index_.find(key);
        if (found == index_.end()) {
            ++misses_;
            return std::nullopt;
        }
        if (found->second->expires_at <= now_()) {
            order_.erase(found->second);
            index_.erase(found);
            ++misses_;
            return std::nullopt;
        }
        order_.splice(order_.begin(), order_, found->second); // most recently used first
        ++hits_;
        return found->second->value;
    }

    void put(const std::string& key, V value) {
        if (capacity_ == 0 || ttl_ <= 0) return;
        std::lock_guard lock(mutex_);
        if (auto found = index_.find(key); found != index_.end()) {
            order_.erase(found->second);
            index_.erase(found);
        }
        order_.push_front(Node{key, std::move(value), now_() + ttl_});
        index_[key] = order_.begin();
        while (index_.size() > capacity_) {
            index_.erase(order_.back().key);
            order_.pop_back();
        }
    }

    void erase(const std::string& key) {
        std::lock_guard lock(mutex_);
        if (auto found = index_.find(key); found != index_.end()) {
            order_.erase(found->second);
            index_.erase(found);
        }
    }

    /// erase_if: drops every entry whose key matches.
    void erase_if(const std::function<bool(const std::string&)>& match) {
        std::lock_guard lock(mutex_);
        for (auto it = order_.begin(); it != order_.end();) {
            if (match(it->key)) {
                index_.erase(it->key);
                it = order_.erase(it);
            } else {
                ++it;
            }
        }
    }

    void clear() {
        std::lock_guard lock(mutex_);
        order_.clear();
        index_.clear();
    }

    [[nodiscard]] size_t size() const {
        std::lock_guard lock(mutex_);
        return index_.size();
    }
    [[nodiscard]] uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
    [[nodiscard]] uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

private:
    struct Node {
        std::string key;
        V value;
        int64_t expires_at;
    };
    size_t capacity_;
    int64_t ttl_;
    std::function<int64_t()> now_;
    mutable std::mutex mutex_;
    std::list<Node> order_;
    std::unordered_map<std::string, typename std::list<Node>::iterator> index_;
    // Atomic: /metrics reads them without the lock.
    std::atomic<uint64_t> hits_{0};
    std::atomic<uint64_t> misses_{0};
};

} // namespace keyholder::directory::detail
