// The worker pool on a real sd-event loop and real threads. Nothing here depends on how
// fast the machine is: jobs that must be running are seen to start, jobs that must wait
// are held by a gate, and every wait has a generous bound that only a hang reaches.
#include "workers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

using namespace std::chrono_literals;

constexpr auto kBound = 60s;  // only a hang waits this long

// A count that threads raise and a test waits for.
class Counter {
  public:
    void add() {
        {
            std::lock_guard lock(mutex_);
            ++count_;
        }
        changed_.notify_all();
    }
    /// Whether the count reached `n` within the bound.
    bool wait_for(int n) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kBound, [&] { return count_ >= n; });
    }
    int value() {
        std::lock_guard lock(mutex_);
        return count_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int count_ = 0;
};

// Holds the jobs that pass it until the test opens it.
class Gate {
  public:
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }
    void pass() {
        std::unique_lock lock(mutex_);
        opened_.wait_for(lock, kBound, [&] { return open_; });
    }

  private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = false;
};

// Counts its own destruction: a job's work that captures one is known to be dropped.
class DropMark {
  public:
    explicit DropMark(Counter& counter) : counter_(counter) {}
    DropMark(const DropMark&) = delete;
    DropMark& operator=(const DropMark&) = delete;
    ~DropMark() { counter_.add(); }

  private:
    Counter& counter_;
};

class WorkerPoolTest : public ::testing::Test {
  protected:
    WorkerPoolTest() {
        sd_event* event = nullptr;
        EXPECT_GE(sd_event_new(&event), 0);
        event_.reset(event);
    }
    // A failed test may leave jobs at the gate: let them go before the pool waits.
    ~WorkerPoolTest() override {
        gate_.open();
        pool_.reset();
    }

    WorkerPool& make_pool(unsigned threads,
                          size_t queue_limit = WorkerPool::kDefaultQueueLimit) {
        pool_ = std::make_unique<WorkerPool>(event_.get(), threads, queue_limit);
        return *pool_;
    }

    // Runs the loop until `done` holds or the bound passes; returns whether it holds.
    bool run_until(const std::function<bool()>& done) {
        auto give_up = std::chrono::steady_clock::now() + kBound;
        while (!done() && std::chrono::steady_clock::now() < give_up) {
            sd_event_run(event_.get(), 100 * 1000);
        }
        return done();
    }

    // A job that counts its start and returns `value` once the gate opens.
    std::function<int()> held(int value) {
        return [this, value] {
            started_.add();
            gate_.pass();
            return value;
        };
    }

    EventPtr event_;
    Gate gate_;
    Counter started_;
    std::unique_ptr<WorkerPool> pool_;
};

TEST_F(WorkerPoolTest, WorkRunsOnWorkersAndCompletionsOnTheLoopThread) {
    WorkerPool& pool = make_pool(2);
    ASSERT_EQ(pool.threads(), 2u);
    const auto loop_thread = std::this_thread::get_id();
    std::mutex mutex;
    std::set<std::thread::id> work_threads;
    std::vector<std::thread::id> completion_threads;
    std::vector<Job> jobs;
    for (int i = 0; i < 2; ++i) {
        // Each waits for the other to start: they run at once, on two threads.
        jobs.push_back(pool.submit(
            [&] {
                started_.add();
                started_.wait_for(2);
                std::lock_guard lock(mutex);
                work_threads.insert(std::this_thread::get_id());
                return 0;
            },
            [&](Result<int> result) {
                EXPECT_TRUE(result.ok());
                completion_threads.push_back(std::this_thread::get_id());
            }));
    }
    ASSERT_TRUE(run_until([&] { return completion_threads.size() == 2; }));
    EXPECT_EQ(work_threads.size(), 2u);
    EXPECT_FALSE(work_threads.contains(loop_thread));
    EXPECT_EQ(completion_threads, (std::vector<std::thread::id>{loop_thread, loop_thread}));
}

TEST_F(WorkerPoolTest, ManyJobsEachCompleteOnceWithTheirOwnResult) {
    constexpr int kJobs = 2000;
    WorkerPool& pool = make_pool(4, kJobs);
    std::vector<int> results(kJobs, -1);
    int completions = 0;
    std::vector<Job> jobs;
    for (int i = 0; i < kJobs; ++i) {
        jobs.push_back(pool.submit([i] { return std::to_string(i * 7); },
                                   [&, i](Result<std::string> result) {
                                       ASSERT_TRUE(result.ok());
                                       EXPECT_EQ(results[i], -1) << "job " << i << " twice";
                                       results[i] = std::stoi(result.value());
                                       ++completions;
                                   }));
    }
    ASSERT_TRUE(run_until([&] { return completions == kJobs; })) << completions;
    for (int i = 0; i < kJobs; ++i) {
        EXPECT_EQ(results[i], i * 7);
    }
    EXPECT_EQ(pool.queued(), 0u);
}

TEST_F(WorkerPoolTest, AJobCancelledBeforeItStartsNeverRuns) {
    WorkerPool& pool = make_pool(1);
    std::vector<int> delivered;
    auto record = [&](Result<int> result) { delivered.push_back(result.value()); };
    Job first = pool.submit(held(1), record);
    ASSERT_TRUE(started_.wait_for(1));  // the one worker is busy: the next job waits
    Job second = pool.submit(held(2), record);
    EXPECT_EQ(pool.queued(), 1u);
    second.cancel();
    EXPECT_EQ(pool.queued(), 0u);
    Job third = pool.submit(held(3), record);
    gate_.open();
    ASSERT_TRUE(run_until([&] { return delivered.size() == 2; }));
    EXPECT_EQ(delivered, (std::vector<int>{1, 3}));
    EXPECT_EQ(started_.value(), 2);  // the cancelled job's work never ran
}

TEST_F(WorkerPoolTest, AJobDroppedWhileRunningFinishesButIsNotDelivered) {
    WorkerPool& pool = make_pool(1);
    Counter finished;
    std::vector<int> delivered;
    auto record = [&](Result<int> result) { delivered.push_back(result.value()); };
    auto job = std::make_unique<Job>(pool.submit(
        [&] {
            started_.add();
            gate_.pass();
            finished.add();
            return 1;
        },
        record));
    ASSERT_TRUE(started_.wait_for(1));
    job.reset();  // a login that ends drops its job with it
    gate_.open();
    ASSERT_TRUE(finished.wait_for(1));
    // The one worker runs jobs in order: once this one is delivered, the dropped one's
    // result has reached the loop too.
    Job next = pool.submit([] { return 2; }, record);
    ASSERT_TRUE(run_until([&] { return !delivered.empty(); }));
    EXPECT_EQ(delivered, std::vector<int>{2});
}

TEST_F(WorkerPoolTest, AFullQueueAnswersUnavailableAtOnce) {
    WorkerPool& pool = make_pool(1, 2);
    int completions = 0;
    auto count = [&](Result<int>) { ++completions; };
    std::vector<Job> jobs;
    jobs.push_back(pool.submit(held(0), count));
    ASSERT_TRUE(started_.wait_for(1));
    jobs.push_back(pool.submit(held(0), count));
    jobs.push_back(pool.submit(held(0), count));
    try {
        jobs.push_back(pool.submit(held(0), count));
        FAIL() << "a third waiting job was queued";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Unavailable);
    }
    EXPECT_EQ(pool.queued(), 2u);
    gate_.open();
    ASSERT_TRUE(run_until([&] { return completions == 3; }));
    // Room again once the queue drains.
    jobs.push_back(pool.submit([] { return 0; }, count));
    ASSERT_TRUE(run_until([&] { return completions == 4; }));
    EXPECT_EQ(started_.value(), 3);
}

// lwauthd's logins go in the High queue of the store's connection threads: a Normal
// queue filled by account calls must neither refuse them nor run before them.
TEST_F(WorkerPoolTest, AHighJobIsTakenBeforeWaitingNormalOnesAndIsNotRefusedByThem) {
    WorkerPool& pool = make_pool(1, 2);
    std::vector<int> order;  // the loop's thread only
    auto record = [&](Result<int> result) { order.push_back(result.ok() ? *result : -1); };
    std::vector<Job> jobs;
    jobs.push_back(pool.submit(held(0), record));
    ASSERT_TRUE(started_.wait_for(1));
    jobs.push_back(pool.submit([] { return 1; }, record));
    jobs.push_back(pool.submit([] { return 2; }, record));
    try {
        jobs.push_back(pool.submit([] { return 3; }, record));
        FAIL() << "a third Normal job was queued";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Unavailable);
    }
    jobs.push_back(pool.submit([] { return 10; }, record, Priority::High));
    jobs.push_back(pool.submit([] { return 11; }, record, Priority::High));
    EXPECT_EQ(pool.queued(), 4u);
    gate_.open();
    ASSERT_TRUE(run_until([&] { return order.size() == 5; }));
    EXPECT_EQ(order, (std::vector<int>{0, 10, 11, 1, 2}));
}

TEST_F(WorkerPoolTest, AnExceptionInAJobBecomesAnErrorResult) {
    WorkerPool& pool = make_pool(2);
    std::vector<Errc> codes;
    std::vector<Job> jobs;
    auto record = [&](Result<int> result) {
        EXPECT_FALSE(result.ok());
        codes.push_back(result.error().code());
    };
    jobs.push_back(pool.submit([]() -> int { throw Error(Errc::NotFound, "no such PIN"); },
                               record));
    ASSERT_TRUE(run_until([&] { return codes.size() == 1; }));
    jobs.push_back(pool.submit([]() -> int { throw std::runtime_error("out of memory"); },
                               record));
    ASSERT_TRUE(run_until([&] { return codes.size() == 2; }));
    jobs.push_back(pool.submit([]() -> int { throw 42; }, record));
    ASSERT_TRUE(run_until([&] { return codes.size() == 3; }));
    EXPECT_EQ(codes, (std::vector<Errc>{Errc::NotFound, Errc::Internal, Errc::Internal}));

    // The workers survive it.
    int value = 0;
    jobs.push_back(pool.submit([] { return 5; }, [&](Result<int> r) { value = r.value(); }));
    ASSERT_TRUE(run_until([&] { return value == 5; }));
}

TEST_F(WorkerPoolTest, ACompletionThatThrowsDoesNotStopTheOthers) {
    WorkerPool& pool = make_pool(1);
    int delivered = 0;
    std::vector<Job> jobs;
    jobs.push_back(pool.submit(held(0), [&](Result<int>) {
        ++delivered;
        throw std::runtime_error("a completion failed");
    }));
    jobs.push_back(pool.submit(held(0), [&](Result<int>) { ++delivered; }));
    gate_.open();
    ASSERT_TRUE(run_until([&] { return delivered == 2; }));
}

// The pool is destroyed on a thread of its own here, so that the test can see it drop
// the waiting jobs before it lets the running ones finish; the loop's thread does
// nothing meanwhile, as when lwauthd stops.
TEST_F(WorkerPoolTest, DestructionDropsWaitingJobsAndWaitsForRunningOnes) {
    constexpr int kWaiting = 10;
    WorkerPool* pool = &make_pool(2);
    Counter dropped;
    int completions = 0;
    auto count = [&](Result<int>) { ++completions; };
    std::vector<Job> jobs;
    for (int i = 0; i < 2; ++i) {
        jobs.push_back(pool->submit(held(0), count));
    }
    ASSERT_TRUE(started_.wait_for(2));
    for (int i = 0; i < kWaiting; ++i) {
        jobs.push_back(pool->submit(
            [this, mark = std::make_shared<DropMark>(dropped)] {
                started_.add();
                gate_.pass();
                return 0;
            },
            count));
    }
    std::atomic<bool> destroyed = false;
    std::thread destroyer([&] {
        pool_.reset();
        destroyed = true;
    });
    EXPECT_TRUE(dropped.wait_for(kWaiting));
    EXPECT_FALSE(destroyed);  // the running jobs hold it
    gate_.open();
    destroyer.join();
    EXPECT_TRUE(destroyed);
    EXPECT_EQ(started_.value(), 2);
    // Nothing is delivered after the pool is gone, and its jobs outlive it harmlessly.
    EXPECT_GE(sd_event_run(event_.get(), 0), 0);
    EXPECT_EQ(completions, 0);
    jobs.clear();
}

}  // namespace
}  // namespace lwauth
