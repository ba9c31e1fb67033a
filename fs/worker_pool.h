// WorkerPool: a fixed set of threads running the data path's background requests (prefetch GETs,
// upload parts). Tasks must not wait for other tasks of the pool (they are leaves: one request
// each), so the pool cannot deadlock; callers wait for their own tasks' results.
//
// Threading: Submit is thread-safe. The destructor runs the tasks already queued, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace spacesfs::fs {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace spacesfs::fs
