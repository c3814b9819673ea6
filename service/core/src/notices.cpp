// Notices: the notifications the rules queue in the outbox, built before the write
// lock (see service_internal.h).
#include <Poco/JSON/Object.h>
#include <openssl/rand.h>

#include <atomic>
#include <stdexcept>

#include "keyholder/json/writer.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/records.h"
#include "keyholder/util/encoding.h"
#include "service_internal.h"

namespace keyholder::core::detail {
namespace {

// message_tag: the unique part of a Message-ID: 64 random bits drawn once per process
// (so a restarted or reinstalled service never repeats one) and a counter. It need
// not be unpredictable: approval-link nonces are HMACs of the Message-ID.
std::string message_tag() {
    static const std::string process = [] {
        unsigned char random[8];
        if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("RAND_bytes failed");
        return util::hex(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
    }();
    static std::atomic<uint64_t> counter{0};
    return process + "." + std::to_string(++counter);
}

} // namespace

std::optional<Notice> prepare_notice(const std::string& kind, const Principal& to, Fields fields) {
    if (to.mail.empty()) {
        log().warning("no mail address for %s: %s notice not queued", to.name, kind);
        return std::nullopt;
    }
    Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [key, value] : fields)
        payload.set(key, value);
    payload.set("recipient_id", to.id);
    payload.set("recipient_name", to.name);
    payload.set("recipient_display", to.display_name.empty() ? to.name : to.display_name);
    return Notice{kind, to.mail, json::text(payload), message_tag()};
}

void enqueue(store::Transaction& tx, int64_t now, const std::optional<Notice>& notice, int64_t request_id) {
    if (!notice) return;
    store::enqueue_notification(
        tx, {now, notice->kind, notice->to_mail, request_id, notice->payload,
             "<" + notice->kind + "." + std::to_string(request_id) + "." + notice->tag + "@keyholder>"});
}

} // namespace keyholder::core::detail
