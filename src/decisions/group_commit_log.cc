// Group commit for the decision log: record() queues, one writer thread commits batches.
//
// Why: the SQLite log commits with synchronous=FULL, one fsync per transaction (~4 ms on the
// reference machine), which capped mailsiftd at ~300 messages/s when every scan waited for its
// own commit. One transaction per batch amortises the fsync over up to batch_max decisions.
//
// Contract (also in decisions.h): record() Ok = queued; committed within flush_ms plus one
// commit; a crash loses at most what was queued since the last commit; a full queue blocks
// record(); failed writes are retried, never dropped; flush() waits until everything queued
// before it is committed (or returns the write error that stops that); close() writes the rest.
//
// Thread-safety: record()/flush()/query()/expire()/stats() from any thread. The inner log is
// written only by the writer thread; query()/expire() call it from the caller's thread (the
// SQLite backend serialises calls on its own mutex).
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "decisions/decision_json.h"
#include "decisions/decisions.h"

namespace mailsift::decisions {

Status DecisionLog::record_batch(std::span<const Decision> decisions) {
  for (const Decision& d : decisions) {
    if (auto s = record(d); !s)
      return s;
  }
  return Ok{};
}

namespace {

using Clock = std::chrono::steady_clock;

class GroupCommit final : public GroupCommitLog {
 public:
  GroupCommit(std::unique_ptr<DecisionLog> inner, const GroupCommitOptions& options)
      : inner_(std::move(inner)), opt_(options) {
    if (opt_.batch_max == 0)
      opt_.batch_max = 1;
    if (opt_.queue_max < opt_.batch_max)
      opt_.queue_max = opt_.batch_max;
    if (opt_.flush_ms < 0)
      opt_.flush_ms = 0;
    writer_ = std::thread([this] { run(); });
  }

  ~GroupCommit() override { (void)close(5000); }

  Status record(const Decision& d) override {
    if (d.id.empty())
      return Error::malformed("decision has no id");
    std::unique_lock lock(mu_);
    if (closing_)
      return Error::temporary("decision log is closed");
    if (queue_.size() + in_flight_ >= opt_.queue_max) {
      ++blocked_;
      space_.wait(lock, [&] { return queue_.size() + in_flight_ < opt_.queue_max || closing_; });
      if (closing_)
        return Error::temporary("decision log is closed");
    }
    const bool was_empty = queue_.empty();
    if (was_empty)
      oldest_ = Clock::now();
    queue_.push_back(d);
    ++queued_;
    // Wake the writer when its deadline starts (it sleeps untimed on an empty queue) and when
    // a batch is full.
    if (was_empty || queue_.size() >= opt_.batch_max || opt_.flush_ms == 0)
      work_.notify_one();
    return Ok{};
  }

  Status record_batch(std::span<const Decision> decisions) override {
    for (const Decision& d : decisions) {
      if (auto s = record(d); !s)
        return s;
    }
    return Ok{};
  }

  Status flush() override {
    std::unique_lock lock(mu_);
    const uint64_t target = queued_;
    const uint64_t errors_before = write_errors_;
    flush_target_ = std::max(flush_target_, target);
    work_.notify_one();
    done_.wait(lock, [&] {
      return written_ >= target || write_errors_ != errors_before || writer_exited_;
    });
    if (written_ >= target)
      return Ok{};
    return Error::temporary(fmt::format("decision log: {} decision(s) not yet written: {}",
                                        target - written_, last_error_));
  }

  Result<std::vector<Decision>> query(const Query& q) override {
    (void)flush();  // read your own writes when the store is writable; query anyway otherwise
    return inner_->query(q);
  }

  Result<size_t> expire(int64_t older_than_unix_ms) override {
    (void)flush();
    return inner_->expire(older_than_unix_ms);
  }

  GroupCommitStats stats() const override {
    std::lock_guard lock(mu_);
    GroupCommitStats s;
    s.queued = queued_;
    s.written = written_;
    s.batches = batches_;
    s.write_errors = write_errors_;
    s.blocked = blocked_;
    s.lost = lost_;
    s.pending = queue_.size() + in_flight_;
    return s;
  }

  Status close(int give_up_ms) override {
    {
      std::lock_guard lock(mu_);
      if (closed_)
        return lost_ == 0 ? Status(Ok{}) : Status(Error::temporary("decisions were lost"));
      closing_ = true;
      give_up_at_ = Clock::now() + std::chrono::milliseconds(give_up_ms);
    }
    work_.notify_one();
    space_.notify_all();
    if (writer_.joinable())
      writer_.join();
    std::lock_guard lock(mu_);
    closed_ = true;
    if (!queue_.empty()) {
      // The store stayed unwritable: say so loudly, with every decision, rather than drop it.
      lost_ += queue_.size();
      std::cerr << fmt::format(
          "mailsift: decision log: {} decision(s) could not be written before shutdown ({}); "
          "they follow as JSON lines\n",
          queue_.size(), last_error_);
      for (const Decision& d : queue_)
        std::cerr << "mailsift: unwritten decision: " << decision_to_json(d).dump() << "\n";
      queue_.clear();
      done_.notify_all();
      return Error::temporary(fmt::format("{} decision(s) lost at shutdown", lost_));
    }
    return Ok{};
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "dlog-commit");  // top -H, bench/outbound per thread
    std::unique_lock lock(mu_);
    std::vector<Decision> batch;
    int backoff_ms = 10;
    for (;;) {
      // Wait for a full batch, the oldest queued decision's deadline, a flush() or close().
      for (;;) {
        if (closing_ || (!queue_.empty() && (queue_.size() >= opt_.batch_max ||
                                             flush_target_ > written_ || opt_.flush_ms == 0)))
          break;
        if (queue_.empty()) {
          work_.wait(lock);
          continue;
        }
        const auto deadline = oldest_ + std::chrono::milliseconds(opt_.flush_ms);
        if (Clock::now() >= deadline)
          break;
        work_.wait_until(lock, deadline);
      }
      if (queue_.empty()) {
        if (closing_)
          break;
        continue;
      }
      // Moved (not copied: a deep copy per decision was measurable in bench/outbound) out of
      // the queue; on failure the batch goes back to the front, in order. in_flight_ keeps it
      // counted for back-pressure and stats meanwhile.
      const size_t n = std::min(queue_.size(), opt_.batch_max);
      const Clock::time_point batch_oldest = oldest_;
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_flight_ = n;
      lock.unlock();
      Status st = inner_->record_batch(batch);
      lock.lock();
      in_flight_ = 0;
      if (st) {
        // What was queued meanwhile or left behind keeps oldest_ (a batch_max remainder was
        // already due): no decision waits longer than flush_ms plus the commits before it.
        written_ += n;
        ++batches_;
        backoff_ms = 10;
        space_.notify_all();
        done_.notify_all();
        continue;
      }
      for (auto it = batch.rbegin(); it != batch.rend(); ++it)
        queue_.push_front(std::move(*it));
      batch.clear();
      oldest_ = batch_oldest;  // the failed batch is the oldest again
      ++write_errors_;
      last_error_ = st.error().describe();
      done_.notify_all();
      if (closing_ && Clock::now() >= give_up_at_)
        break;
      std::cerr << fmt::format("mailsift: decision log: batch of {} not written, retrying in {} ms: {}\n",
                               n, backoff_ms, last_error_);
      work_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] {
        return closing_ && Clock::now() >= give_up_at_;
      });
      backoff_ms = std::min(backoff_ms * 2, std::max(10, opt_.retry_max_ms));
      if (closing_ && Clock::now() >= give_up_at_)
        break;
    }
    writer_exited_ = true;
    done_.notify_all();
  }

  std::unique_ptr<DecisionLog> inner_;
  GroupCommitOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable work_, space_, done_;
  std::deque<Decision> queue_;
  Clock::time_point oldest_{};
  Clock::time_point give_up_at_{};
  uint64_t queued_ = 0, written_ = 0, batches_ = 0, write_errors_ = 0, blocked_ = 0, lost_ = 0;
  uint64_t flush_target_ = 0;
  size_t in_flight_ = 0;  // moved out of queue_ into the batch being written
  std::string last_error_;
  bool closing_ = false, closed_ = false, writer_exited_ = false;
  std::thread writer_;
};

}  // namespace

std::unique_ptr<GroupCommitLog> make_group_commit_log(std::unique_ptr<DecisionLog> inner,
                                                      const GroupCommitOptions& options) {
  return std::make_unique<GroupCommit>(std::move(inner), options);
}

}  // namespace mailsift::decisions
