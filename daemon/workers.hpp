// CPU-heavy work (Argon2id hashing of quick-login PINs) off lwauthd's event loop: a few
// threads take jobs from a bounded queue, and each result comes back to the sd-event loop
// through an eventfd, where the job's completion runs, as systemd posts its own workers'
// results. A job's work runs on a worker and must touch nothing the loop owns (the store,
// the bus, the loop, the login): it captures the values it needs and returns a value.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "lwauth/error.hpp"
#include "lwauth/result.hpp"

namespace lwauth {

namespace worker_detail {

/// A result on its way from a worker to the loop, its type known to its completion only.
struct Box {
    virtual ~Box() = default;
};

template <class T>
struct TypedBox : Box {
    explicit TypedBox(T v) : value(std::move(v)) {}
    T value;
};

/// Runs on a worker; throws what the job's work throws.
using Work = std::function<std::unique_ptr<Box>()>;
/// Runs on the loop with the box, or with the exception the work threw.
using Completion = std::function<void(std::unique_ptr<Box>, std::exception_ptr)>;

/// What a job's work threw, as an lwauth Error.
Error to_error(const std::exception_ptr& failure);

class Queue;

}  // namespace worker_detail

/// A submitted job. Destroying or cancelling it drops the job: a job not started yet
/// never runs; one running finishes on its worker, but its completion is not called.
/// Use it on the loop's thread only. It may outlive its pool (cancelling is then a no-op).
class Job {
  public:
    Job() = default;
    ~Job() { cancel(); }
    Job(Job&& other) noexcept
        : queue_(std::move(other.queue_)), id_(std::exchange(other.id_, 0)) {}
    Job& operator=(Job&& other) noexcept {
        if (this != &other) {
            cancel();
            queue_ = std::move(other.queue_);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    /// Drops the job (see above). Safe to call more than once, and after completion.
    void cancel() noexcept;

  private:
    friend class WorkerPool;
    Job(std::weak_ptr<worker_detail::Queue> queue, uint64_t id) : queue_(std::move(queue)), id_(id) {}

    std::weak_ptr<worker_detail::Queue> queue_;
    uint64_t id_ = 0;
};

/// Which of a pool's two queues a job waits in: a free worker takes the High queue's
/// oldest job before any Normal one, and each queue has its own limit, so that a flood of
/// Normal jobs neither refuses nor delays a High one beyond the jobs already running.
enum class Priority { Normal, High };

class WorkerPool {
  public:
    /// [daemon] workers bounds the threads; this bounds the jobs of each priority waiting
    /// for one.
    static constexpr size_t kDefaultQueueLimit = 64;

    /// Starts `threads` workers (at least one) that post results to `event`, which must
    /// outlive the pool. Throws Error(Internal) when the eventfd, its event source or a
    /// thread cannot be made.
    WorkerPool(sd_event* event, unsigned threads, size_t queue_limit = kDefaultQueueLimit);
    /// Drops the jobs not started, waits for the running ones to finish and joins the
    /// workers; no completion is called from then on.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Queues `work` (a callable returning a value) to run on a worker; `done` then runs
    /// on the loop with the Result: that value, or the error its work threw (an exception
    /// that is not an lwauth Error becomes Errc::Internal), unless the Job was dropped
    /// first. Throws Error(Unavailable), at once and without queueing, when `queue_limit`
    /// jobs of `priority` are already waiting for a worker.
    template <class Work, class OnDone>
    [[nodiscard]] Job submit(Work work, OnDone done, Priority priority = Priority::Normal) {
        using T = std::invoke_result_t<Work&>;
        static_assert(!std::is_void_v<T>, "a job's work returns its result");
        auto run = [work = std::move(work)]() mutable -> std::unique_ptr<worker_detail::Box> {
            return std::make_unique<worker_detail::TypedBox<T>>(work());
        };
        auto complete = [done = std::move(done)](std::unique_ptr<worker_detail::Box> box,
                                                 std::exception_ptr failure) mutable {
            if (failure) {
                done(Result<T>(worker_detail::to_error(failure)));
            } else {
                done(Result<T>(std::move(static_cast<worker_detail::TypedBox<T>&>(*box).value)));
            }
        };
        return submit_erased(std::move(run), std::move(complete), priority);
    }

    [[nodiscard]] unsigned threads() const noexcept { return threads_; }
    /// Jobs waiting for a worker (not the running ones).
    [[nodiscard]] size_t queued() const;

  private:
    Job submit_erased(worker_detail::Work run, worker_detail::Completion complete,
                      Priority priority);

    std::shared_ptr<worker_detail::Queue> queue_;
    unsigned threads_ = 0;
};

}  // namespace lwauth
