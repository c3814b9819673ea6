// ParallelMailer (see parallel_mailer.h).
#include "parallel_mailer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace keyholder::notify::detail {

ParallelMailer::ParallelMailer(std::vector<std::unique_ptr<Mailer>> lanes) : lanes_(std::move(lanes)) {}

Delivery ParallelMailer::deliver(const Mail& mail) { return lanes_.front()->deliver(mail); }

void ParallelMailer::deliver_all(const std::vector<Mail>& mails,
                                 const std::function<void(size_t, const Delivery&)>& done) {
    const size_t lanes = std::min(lanes_.size(), mails.size());
    if (lanes <= 1) {
        Mailer::deliver_all(mails, done);
        return;
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::condition_variable answered;
    std::deque<std::pair<size_t, Delivery>> answers;
    {
        std::vector<std::jthread> senders;
        senders.reserve(lanes);
        for (size_t lane = 0; lane < lanes; ++lane)
            senders.emplace_back([&, lane] {
                for (size_t i = next++; i < mails.size() && !stop; i = next++) {
                    Delivery delivery = lanes_[lane]->deliver(mails[i]); // deliver() does not throw
                    const std::lock_guard lock(mutex);
                    answers.emplace_back(i, std::move(delivery));
                    answered.notify_one();
                }
            });
        try {
            for (size_t received = 0; received < mails.size(); ++received) {
                std::unique_lock lock(mutex);
                answered.wait(lock, [&] { return !answers.empty(); });
                auto [index, delivery] = std::move(answers.front());
                answers.pop_front();
                lock.unlock();
                done(index, delivery);
            }
        } catch (...) {
            stop = true;     // the mails in flight finish; no new one begins
            senders.clear(); // joins
            throw;
        }
    } // joins
}

void ParallelMailer::finish_batch() {
    for (auto& lane : lanes_)
        lane->finish_batch();
}

std::string ParallelMailer::describe() const {
    return lanes_.front()->describe() + ", " + std::to_string(lanes_.size()) + " sessions";
}

} // namespace keyholder::notify::detail
