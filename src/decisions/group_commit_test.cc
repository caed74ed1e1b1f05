// Group commit (make_group_commit_log): every decision whose record() returned Ok is in the log
// after flush() or close(), batches are real transactions, a full queue blocks instead of
// dropping, failed writes are retried and counted, and close() never drops silently.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "decisions/decisions.h"

namespace mailsift::decisions {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "mailsift-gcommit-XXXXXX").string();
    if (mkdtemp(t.data()))
      path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file() const { return path_ + "/" + kDecisionsFileName; }

 private:
  std::string path_;
};

Decision sample(int i) {
  Decision d;
  d.id = "20261128T120000.000Z-" + std::to_string(1000000 + i);
  d.time_unix_ms = 1795792500000 + i;
  d.mail_from = "s@example.com";
  RecipientDecision r;
  r.address = "r" + std::to_string(i) + "@example.org";
  r.action = "no action";
  d.recipients.push_back(r);
  return d;
}

size_t count_in(DecisionLog& log) {
  Query q;
  q.limit = 0;
  auto rows = log.query(q);
  EXPECT_TRUE(rows.ok()) << (rows.ok() ? "" : rows.error().describe());
  return rows.ok() ? rows->size() : 0;
}

// A memory log that can fail its next writes and hold writers at a gate.
class FlakyLog final : public DecisionLog {
 public:
  Status record(const Decision& d) override { return record_batch({&d, 1}); }
  Status record_batch(std::span<const Decision> batch) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
    ++calls_;
    if (fail_next_ > 0) {
      --fail_next_;
      return Error::temporary("disk on fire");
    }
    lock.unlock();
    return inner_->record_batch(batch);
  }
  Result<std::vector<Decision>> query(const Query& q) override { return inner_->query(q); }
  Result<size_t> expire(int64_t t) override { return inner_->expire(t); }

  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  void set_open(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    cv_.notify_all();
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  DecisionLog& inner() { return *inner_; }

 private:
  std::unique_ptr<DecisionLog> inner_ = make_memory_log();
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int fail_next_ = 0;
  int calls_ = 0;
};

TEST(GroupCommit, EveryRecordIsInTheSqliteLogAfterFlush) {
  TempDir dir;
  auto inner = open_sqlite_log(dir.file());
  ASSERT_TRUE(inner.ok());
  GroupCommitOptions opt;
  opt.flush_ms = 10000;  // only full batches and flush() write
  opt.batch_max = 64;
  auto log = make_group_commit_log(std::move(inner).value(), opt);
  constexpr int kThreads = 4, kEach = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        EXPECT_TRUE(log->record(sample(t * kEach + i)).ok());
    });
  }
  for (auto& t : threads)
    t.join();
  ASSERT_TRUE(log->flush().ok());
  const GroupCommitStats st = log->stats();
  EXPECT_EQ(st.queued, uint64_t{kThreads * kEach});
  EXPECT_EQ(st.written, uint64_t{kThreads * kEach});
  EXPECT_EQ(st.pending, 0u);
  EXPECT_LE(st.batches, uint64_t{kThreads * kEach / 64 + 2});  // batched, not one per record
  // A second, independent connection sees all of them: they are committed.
  auto other = open_sqlite_log(dir.file());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(count_in(**other), size_t{kThreads * kEach});
}

TEST(GroupCommit, CloseWritesWhatIsQueued) {
  TempDir dir;
  {
    auto inner = open_sqlite_log(dir.file());
    ASSERT_TRUE(inner.ok());
    GroupCommitOptions opt;
    opt.flush_ms = 60000;
    opt.batch_max = 1000;
    auto log = make_group_commit_log(std::move(inner).value(), opt);
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(log->record(sample(i)).ok());
    EXPECT_GT(log->stats().pending, 0u);
    ASSERT_TRUE(log->close(5000).ok());
    EXPECT_FALSE(log->record(sample(999)).ok()) << "a closed log refuses, never drops";
  }
  auto other = open_sqlite_log(dir.file());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(count_in(**other), 300u);
}

TEST(GroupCommit, TimedFlushWithoutAnyCall) {
  TempDir dir;
  auto inner = open_sqlite_log(dir.file());
  ASSERT_TRUE(inner.ok());
  GroupCommitOptions opt;
  opt.flush_ms = 20;
  auto log = make_group_commit_log(std::move(inner).value(), opt);
  // Let the writer reach its idle wait first (a record() racing its start hid a lost wake-up).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(log->record(sample(1)).ok());
  auto other = open_sqlite_log(dir.file());
  ASSERT_TRUE(other.ok());
  // Committed by the writer within flush_ms (generous bound: a loaded CI machine).
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t n = 0;
  while ((n = count_in(**other)) == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(log->stats().written, 1u);
}

TEST(GroupCommit, FullQueueBlocksRecordInsteadOfDropping) {
  auto flaky = std::make_unique<FlakyLog>();
  FlakyLog* f = flaky.get();
  f->set_open(false);  // the writer is stuck in its first batch
  GroupCommitOptions opt;
  opt.flush_ms = 0;
  opt.batch_max = 2;
  opt.queue_max = 4;
  auto log = make_group_commit_log(std::move(flaky), opt);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(log->record(sample(i)).ok());
  std::atomic<bool> fifth_done{false};
  std::thread t([&] {
    EXPECT_TRUE(log->record(sample(4)).ok());
    fifth_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fifth_done.load()) << "record() must wait while the queue is full";
  f->set_open(true);
  t.join();
  EXPECT_TRUE(fifth_done.load());
  ASSERT_TRUE(log->flush().ok());
  EXPECT_GE(log->stats().blocked, 1u);
  EXPECT_EQ(count_in(f->inner()), 5u);
}

TEST(GroupCommit, FailedBatchesAreRetriedAndCounted) {
  auto flaky = std::make_unique<FlakyLog>();
  FlakyLog* f = flaky.get();
  f->fail_next(3);
  GroupCommitOptions opt;
  opt.flush_ms = 1;
  opt.retry_max_ms = 20;
  auto log = make_group_commit_log(std::move(flaky), opt);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(log->record(sample(i)).ok());
  // flush() reports a failing store; the decisions stay queued and are written on a retry.
  Status st = log->flush();
  for (int tries = 0; !st.ok() && tries < 100; ++tries)
    st = log->flush();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(log->stats().write_errors, 3u);
  EXPECT_EQ(log->stats().written, 10u);
  EXPECT_EQ(count_in(f->inner()), 10u);
}

TEST(GroupCommit, CloseOnADeadStoreCountsWhatItCouldNotWrite) {
  auto flaky = std::make_unique<FlakyLog>();
  FlakyLog* f = flaky.get();
  f->fail_next(1 << 30);
  GroupCommitOptions opt;
  opt.flush_ms = 60000;
  opt.retry_max_ms = 10;
  auto log = make_group_commit_log(std::move(flaky), opt);
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(log->record(sample(i)).ok());
  EXPECT_FALSE(log->close(100).ok());
  EXPECT_EQ(log->stats().lost, 7u);  // and each was printed to stderr as JSON
  EXPECT_GT(f->calls(), 0);
}

TEST(GroupCommit, QueryReadsItsOwnWritesAndIdIsRequired) {
  GroupCommitOptions opt;
  opt.flush_ms = 60000;
  auto log = make_group_commit_log(make_memory_log(), opt);
  ASSERT_TRUE(log->record(sample(1)).ok());
  EXPECT_EQ(count_in(*log), 1u);
  Decision no_id = sample(2);
  no_id.id.clear();
  auto st = log->record(no_id);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kMalformed);
}

TEST(SqliteLog, RecordBatchIsOneTransactionAndIdempotent) {
  TempDir dir;
  auto log = open_sqlite_log(dir.file());
  ASSERT_TRUE(log.ok());
  std::vector<Decision> batch;
  for (int i = 0; i < 50; ++i)
    batch.push_back(sample(i));
  ASSERT_TRUE((*log)->record_batch(batch).ok());
  ASSERT_TRUE((*log)->record_batch(batch).ok());  // a retry of a committed batch
  EXPECT_EQ(count_in(**log), 50u);
  batch.push_back(sample(50));
  batch.back().id.clear();
  EXPECT_FALSE((*log)->record_batch(batch).ok());
  EXPECT_EQ(count_in(**log), 50u);  // all or nothing
}

}  // namespace
}  // namespace mailsift::decisions
