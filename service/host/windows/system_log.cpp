// The system log on Windows (see system_log.h): Poco's EventLogChannel behind a
// filter, so that the Event Log holds what an administrator looks for there (the
// service's start and stop, and errors) and not every request.
#include "../system_log.h"

#include <Poco/EventLogChannel.h>
#include <Poco/Message.h>
#include <Poco/SplitterChannel.h>

namespace keyholder::host {
namespace {

class EventLogFilter : public Poco::Channel {
public:
    explicit EventLogFilter(Poco::AutoPtr<Poco::Channel> target) : target_(std::move(target)) {}
    void log(const Poco::Message& message) override {
        // "keyholderd" logs the service's life: starting, ready, stopping, stopped.
        if (message.getPriority() <= Poco::Message::PRIO_ERROR ||
            (message.getSource() == "keyholderd" && message.getPriority() <= Poco::Message::PRIO_INFORMATION))
            target_->log(message);
    }
    void open() override { target_->open(); }
    void close() override { target_->close(); }

private:
    Poco::AutoPtr<Poco::Channel> target_;
};

} // namespace

void report_to_system_log(const std::string& text) {
    Poco::AutoPtr<Poco::EventLogChannel> event_log = new Poco::EventLogChannel("keyholder");
    event_log->log(Poco::Message("keyholderd", text, Poco::Message::PRIO_ERROR));
    event_log->close();
}

Poco::AutoPtr<Poco::Channel> with_system_log(Poco::AutoPtr<Poco::Channel> main) {
    Poco::AutoPtr<Poco::SplitterChannel> both = new Poco::SplitterChannel;
    both->addChannel(main);
    Poco::AutoPtr<Poco::Channel> event_log = new Poco::EventLogChannel("keyholder");
    both->addChannel(new EventLogFilter(event_log));
    return both;
}

} // namespace keyholder::host
