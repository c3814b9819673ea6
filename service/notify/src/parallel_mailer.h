// ParallelMailer: several mailers of one kind (one SMTP session each) used side by
// side. A batch is shared out by an atomic index, one thread per session; the answers
// come back through a queue to the caller's thread, which marks each row as soon as
// its mail is answered (the store connection is the caller's alone).
#pragma once

#include <memory>
#include <vector>

#include "keyholder/notify/mailer.h"

namespace keyholder::notify::detail {

class ParallelMailer final : public Mailer {
public:
    explicit ParallelMailer(std::vector<std::unique_ptr<Mailer>> lanes);
    Delivery deliver(const Mail& mail) override; ///< on the first session
    void deliver_all(const std::vector<Mail>& mails, const std::function<void(size_t, const Delivery&)>& done) override;
    void finish_batch() override;
    [[nodiscard]] std::string describe() const override;

private:
    std::vector<std::unique_ptr<Mailer>> lanes_;
};

} // namespace keyholder::notify::detail
