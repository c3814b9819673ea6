// TEMPORARY phase probe (not to commit)
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
namespace probe {
inline std::array<std::atomic<long long>, 16> total_ns{};
inline std::array<std::atomic<long long>, 16> count{};
inline const char* names[16] = {"server_total",
                                "signon",
                                "json",
                                "prechecks",
                                "writer_wait",
                                "inserts",
                                "commit_total",
                                "fsync",
                                "answer",
                                "handler_total",
                                "send",
                                "member_wait",
                                "group_COMMIT",
                                "",
                                "",
                                ""};
struct Scope {
    int i;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    explicit Scope(int i) : i(i) {}
    ~Scope() {
        total_ns[i] +=
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        count[i]++;
    }
};
inline void reset() {
    for (auto& a : total_ns)
        a = 0;
    for (auto& a : count)
        a = 0;
}
inline void dump() {
    for (int i = 0; i < 16; ++i)
        if (count[i])
            std::printf("   probe %-14s n=%lld avg %.1f us\n", names[i], count[i].load(),
                        total_ns[i] / 1000.0 / count[i]);
}
} // namespace probe
