// The directory's TTL cache: expiry on the injected clock, LRU size bound, erase.
#include <gtest/gtest.h>

#include "ttl_cache.h"

namespace {

using keyholder::directory::detail::TtlCache;

TEST(TtlCache, ExpiresOnTheInjectedClock) {
    int64_t now = 1000;
    TtlCache<int> cache(10, 60, [&] { return now; });
    cache.put("a", 1);
    EXPECT_EQ(cache.get("a"), 1);
    now += 59;
    EXPECT_EQ(cache.get("a"), 1);
    now += 1;
    EXPECT_EQ(cache.get("a"), std::nullopt);
    EXPECT_EQ(cache.size(), 0U);
}

TEST(TtlCache, EvictsTheLeastRecentlyUsedBeyondItsSize) {
    int64_t now = 0;
    TtlCache<int> cache(2, 60, [&] { return now; });
    cache.put("a", 1);
    cache.put("b", 2);
    EXPECT_EQ(cache.get("a"), 1); // a is now the most recent
    cache.put("c", 3);            // evicts b
    EXPECT_EQ(cache.get("b"), std::nullopt);
    EXPECT_EQ(cache.get("a"), 1);
    EXPECT_EQ(cache.get("c"), 3);
    EXPECT_EQ(cache.size(), 2U);
}

TEST(TtlCache, EraseAndEraseIf) {
    int64_t now = 0;
    TtlCache<std::optional<int>> cache(10, 60, [&] { return now; });
    cache.put("login:bob", 1);
    cache.put("login:alice", std::nullopt); // a negative entry
    cache.put("dn:x", 3);
    ASSERT_TRUE(cache.get("login:alice").has_value());
    EXPECT_FALSE(cache.get("login:alice")->has_value());
    cache.erase_if([](const std::string& k) { return k.starts_with("login:"); });
    EXPECT_FALSE(cache.get("login:bob"));
    EXPECT_TRUE(cache.get("dn:x"));
    cache.erase("dn:x");
    EXPECT_EQ(cache.size(), 0U);
}

TEST(TtlCache, ZeroSizeOrTtlCachesNothing) {
    int64_t now = 0;
    TtlCache<int> off(0, 60, [&] { return now; });
    off.put("a", 1);
    EXPECT_FALSE(off.get("a"));
    TtlCache<int> no_ttl(10, 0, [&] { return now; });
    no_ttl.put("a", 1);
    EXPECT_FALSE(no_ttl.get("a"));
}

} // namespace
