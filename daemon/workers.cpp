#include "workers.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "log.hpp"
#include "lwauth/files.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace worker_detail {

Error to_error(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        return Error(Errc::Internal, std::string("a worker job failed: ") + e.what());
    } catch (...) {
        return Error(Errc::Internal, "a worker job failed");
    }
}

struct Task {
    uint64_t id = 0;
    Work run;
    std::unique_ptr<Box> box;   // what run returned
    std::exception_ptr failure;  // or what it threw
};

// The pool's state, shared with the Job handles so that a handle may outlive its pool.
// A task moves between the lists by splice (no allocation, nothing thrown): waiting (the
// loop put it there), taken by a worker, finished (waiting for the loop). The completions
// live on the loop's side only, so a completion's captures are never touched, nor
// destroyed, on a worker.
class Queue : public std::enable_shared_from_this<Queue> {
  public:
    Queue(sd_event* event, size_t limit) : limit_(limit) {
        eventfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!eventfd_.valid()) {
            throw Error(Errc::Internal, "cannot create the workers' eventfd: " + errno_string(-errno));
        }
        sd_event_source* source = nullptr;
        int r = sd_event_add_io(event, &source, eventfd_.get(), EPOLLIN, on_ready, this);
        if (r < 0) {
            throw Error(Errc::Internal, "cannot watch the workers' eventfd: " + errno_string(r));
        }
        source_.reset(source);
    }
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    void start(unsigned threads);
    void stop() noexcept;
    uint64_t push(Work run, Completion complete, Priority priority);
    void cancel(uint64_t id) noexcept;

    [[nodiscard]] size_t queued() const {
        std::lock_guard lock(mutex_);
        return waiting_[0].size() + waiting_[1].size();
    }

  private:
    void work() noexcept;
    static int on_ready(sd_event_source*, int fd, uint32_t, void* userdata) noexcept;
    void deliver();

    const size_t limit_;
    UniqueFd eventfd_;
    EventSourcePtr source_;  // after eventfd_: unwatched before it is closed
    std::vector<std::thread> threads_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    // Guarded by mutex_: the jobs the loop put there, by priority (High first).
    std::list<Task> waiting_[2];
    std::list<Task> finished_;  // guarded by mutex_
    bool stopping_ = false;     // guarded by mutex_

    // The loop's thread only.
    std::unordered_map<uint64_t, Completion> completions_;
    uint64_t next_id_ = 1;
};

void Queue::start(unsigned threads) {
    // lwauthd takes SIGTERM, SIGHUP and SIGINT through a signalfd on the loop: a worker
    // that did not block them could receive one and die of it, with the daemon.
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
        for (unsigned i = 0; i < threads; ++i) {
            threads_.emplace_back([this] { work(); });
        }
    } catch (const std::exception& e) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        stop();
        throw Error(Errc::Internal, std::string("cannot start a worker thread: ") + e.what());
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Queue::stop() noexcept {
    {
        std::list<Task> dropped;  // the jobs not started die here, before the wait
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (auto& waiting : waiting_) {
            dropped.splice(dropped.end(), waiting);
        }
    }
    wake_.notify_all();
    for (auto& thread : threads_) {
        thread.join();
    }
    threads_.clear();
    source_.reset();
    completions_.clear();
    std::list<Task> undelivered;
    std::lock_guard lock(mutex_);
    undelivered.splice(undelivered.end(), finished_);
}

uint64_t Queue::push(Work run, Completion complete, Priority priority) {
    std::list<Task> node;
    node.push_back(Task{next_id_, std::move(run), nullptr, nullptr});
    completions_.emplace(next_id_, std::move(complete));
    bool full = false;
    {
        std::lock_guard lock(mutex_);
        auto& waiting = waiting_[priority == Priority::High ? 0 : 1];
        full = stopping_ || waiting.size() >= limit_;
        if (!full) {
            waiting.splice(waiting.end(), node);
        }
    }
    if (full) {
        completions_.erase(next_id_);
        throw Error(Errc::Unavailable, N_("lwauthd is busy: too many jobs wait for a worker"));
    }
    wake_.notify_one();
    return next_id_++;
}

void Queue::cancel(uint64_t id) noexcept {
    completions_.erase(id);  // a running or finished task is never delivered
    std::list<Task> dropped;  // destroyed outside the lock
    std::lock_guard lock(mutex_);
    for (auto& waiting : waiting_) {
        auto it = std::find_if(waiting.begin(), waiting.end(),
                               [id](const Task& task) { return task.id == id; });
        if (it != waiting.end()) {
            dropped.splice(dropped.end(), waiting, it);
            return;
        }
    }
}

void Queue::work() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] {
            return stopping_ || !waiting_[0].empty() || !waiting_[1].empty();
        });
        if (stopping_) {
            return;
        }
        auto& waiting = waiting_[0].empty() ? waiting_[1] : waiting_[0];
        std::list<Task> mine;
        mine.splice(mine.end(), waiting, waiting.begin());
        lock.unlock();
        Task& task = mine.front();
        try {
            task.box = task.run();
        } catch (...) {
            task.failure = std::current_exception();
        }
        task.run = nullptr;  // the work's captures die here, on the worker that used them
        lock.lock();
        finished_.splice(finished_.end(), mine);
        eventfd_write(eventfd_.get(), 1);  // fails only when the count is full: still readable
    }
}

int Queue::on_ready(sd_event_source*, int fd, uint32_t, void* userdata) noexcept {
    eventfd_t count = 0;
    eventfd_read(fd, &count);
    try {
        static_cast<Queue*>(userdata)->deliver();
    } catch (const std::exception& e) {
        log_event(LogLevel::Error, "internal-error",
                  std::string("a worker job's completion failed: ") + e.what());
    }
    return 0;
}

void Queue::deliver() {
    auto self = shared_from_this();  // a completion may destroy the pool
    std::list<Task> finished;
    {
        std::lock_guard lock(mutex_);
        finished.splice(finished.end(), finished_);
    }
    for (Task& task : finished) {
        auto it = completions_.find(task.id);
        if (it == completions_.end()) {
            continue;  // dropped while it ran
        }
        Completion complete = std::move(it->second);
        completions_.erase(it);
        try {
            complete(std::move(task.box), task.failure);
        } catch (const std::exception& e) {
            log_event(LogLevel::Error, "internal-error",
                      std::string("a worker job's completion failed: ") + e.what());
        }
    }
}

}  // namespace worker_detail

void Job::cancel() noexcept {
    if (id_ == 0) {
        return;
    }
    if (auto queue = queue_.lock()) {
        queue->cancel(id_);
    }
    queue_.reset();
    id_ = 0;
}

WorkerPool::WorkerPool(sd_event* event, unsigned threads, size_t queue_limit)
    : queue_(std::make_shared<worker_detail::Queue>(event, queue_limit)),
      threads_(std::max(threads, 1u)) {
    queue_->start(threads_);
}

WorkerPool::~WorkerPool() { queue_->stop(); }

size_t WorkerPool::queued() const { return queue_->queued(); }

Job WorkerPool::submit_erased(worker_detail::Work run, worker_detail::Completion complete,
                              Priority priority) {
    uint64_t id = queue_->push(std::move(run), std::move(complete), priority);
    return Job(queue_, id);
}

}  // namespace lwauth
