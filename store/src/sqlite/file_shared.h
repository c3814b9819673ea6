// The group commit's shared state: what the connections of one process to one
// database file share (the write lock, the group open now, which groups are on
// disk), and the hooks tests use to make grouping deterministic. Private to the
// store module (tests of the store include it from store/src/sqlite).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "keyholder/platform/files.h"
#include "keyholder/store/connection.h"
#include "sqlite/connection.h"

namespace keyholder::store::detail {

/// kMaxGroupMembers / kMaxGroupAge: a group is committed once it has this many
/// members, or (group_while_idle) once it is this old.
inline constexpr int kMaxGroupMembers = 64;
inline constexpr auto kMaxGroupAge = std::chrono::milliseconds(20);

/// WriterLock: the in-process write lock of a file: a mutex with a timed acquire.
/// (Not std::timed_mutex: its try_lock_for uses pthread_mutex_clocklock, which the
/// ThreadSanitizer of GCC 12 does not see, so that every unlock looked wrong to it.)
struct WriterLock {
    void lock() {
        std::unique_lock guard(mutex_);
        free_.wait(guard, [&] { return !held_; });
        held_ = true;
    }
    bool try_lock() {
        std::lock_guard guard(mutex_);
        if (held_) return false;
        held_ = true;
        return true;
    }
    template <typename Rep, typename Period> bool try_lock_for(const std::chrono::duration<Rep, Period>& wait) {
        std::unique_lock guard(mutex_);
        if (!free_.wait_for(guard, wait, [&] { return !held_; })) return false;
        held_ = true;
        return true;
    }
    void unlock() {
        {
            std::lock_guard guard(mutex_);
            held_ = false;
        }
        free_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable free_;
    bool held_ = false;
};

/// GroupOutcome: the result of one group, shared by its members (each holds it), so
/// a member that wakes late still finds its own group's result.
struct GroupOutcome {
    std::string error; ///< under FileShared::sync_mutex; empty: committed (and synced once durable)
};

/// GroupCommitHooks: for tests only.
struct GroupCommitHooks {
    /// group_while_idle: queued writers join the open group even while the disk is
    /// idle (normally the group is committed at once then): bigger groups, longer waits.
    bool group_while_idle = false;
    /// before_sync: runs before each fdatasync of the file's WAL, in the syncing thread
    /// (holds the disk "busy"). Applies to the whole file.
    std::function<void()> before_sync;
    /// after_durable: runs in commit() once the member's group is decided, before its
    /// outcome is read (a member that wakes late).
    std::function<void()> after_durable;
};

/// install_test_hooks: sets the hooks of one connection (before_sync: of its file).
void install_test_hooks(Connection& connection, const GroupCommitHooks& hooks);

struct FileShared {
    explicit FileShared(std::string wal_path) : wal(platform::from_utf8(wal_path)) {}
    FileShared(const FileShared&) = delete;
    FileShared& operator=(const FileShared&) = delete;

    WriterLock writer;
    std::atomic<int> queued{0}; ///< threads waiting for `writer`

    // Under `writer`: the group open now.
    std::unique_ptr<SqliteConnection> group_connection; ///< every group runs here
    uint64_t open_group = 0;                            ///< its number, 0 when none is open
    std::shared_ptr<GroupOutcome> open_outcome;         ///< its outcome, handed to each member
    uint64_t groups_opened = 0;
    int open_members = 0; ///< members that committed into it so far
    std::chrono::steady_clock::time_point opened_at;
    /// close_group: commits the open group (if any); returns its number, else 0.
    uint64_t close_group() noexcept;

    // Under sync_mutex: which groups are decided and on disk.
    void sync_through(uint64_t group) noexcept;
    bool disk_busy();                         ///< an fdatasync is running now
    static constexpr uint64_t kWaitSlots = 8; ///< members wait on the slot of their group
    std::mutex sync_mutex;
    std::condition_variable durable[kWaitSlots];
    std::condition_variable sync_done;
    uint64_t groups_closed = 0;   ///< groups close in order
    uint64_t durable_through = 0; ///< every group up to this one is on disk or failed
    bool syncing = false;         ///< a caller is in fdatasync now
    /// closed, not yet synced: an fsync failure is written into their outcomes.
    std::deque<std::pair<uint64_t, std::shared_ptr<GroupOutcome>>> unsynced;
    uint64_t transactions = 0;         ///< durable transactions committed
    uint64_t committed = 0;            ///< group commits made
    uint64_t syncs = 0;                ///< fdatasync calls made (tests, metrics)
    std::function<void()> before_sync; ///< GroupCommitHooks::before_sync

private:
    platform::SyncedFile wal; ///< kept open: one data sync per group, no open/close
};

} // namespace keyholder::store::detail
