// WriteTracker: how many files of a mount are open for writing, and whether the mount is stopping.
//
// A graceful stop (SIGTERM) refuses new writes but lets the files already open for writing be
// written to the end and closed, so the objects they become are complete. The adapter reserves a
// slot before it opens a file for writing (or creates one); the reservation is refused once the
// mount is stopping, and given back when the open fails or the file is released. The stopper
// waits until Open() is 0 (or its deadline passes).
//
// Threading: every method may be called from any thread; one mutex guards both fields and is held
// only for the update itself.
#pragma once

#include <cstdint>
#include <mutex>

namespace spacesfs::fuse {

class WriteTracker {
 public:
  // One open for writing. Holds a slot until Keep() (the open succeeded: the slot is given back
  // by Released()) or its destruction (the open failed).
  class Reservation {
   public:
    Reservation(WriteTracker* tracker, bool refused) : tracker_(tracker), refused_(refused) {}
    ~Reservation() {
      if (tracker_ != nullptr) tracker_->Released();
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

    // False when the mount is stopping: reply EROFS.
    bool ok() const { return !refused_; }
    void Keep() { tracker_ = nullptr; }

   private:
    WriteTracker* tracker_;  // null: nothing to give back
    bool refused_;
  };

  // counted: the file is opened for writing (its release will call Released()). A create that
  // opens read-only is not counted but is still refused while stopping.
  Reservation Reserve(bool counted) {
    std::lock_guard lock(mu_);
    if (stopping_) return Reservation(nullptr, true);
    if (!counted) return Reservation(nullptr, false);
    ++open_;
    return Reservation(this, false);
  }

  // A file opened for writing was released.
  void Released() {
    std::lock_guard lock(mu_);
    if (open_ > 0) --open_;
  }

  // From now on every Reserve() is refused.
  void BeginStop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  uint64_t Open() const {
    std::lock_guard lock(mu_);
    return open_;
  }

 private:
  mutable std::mutex mu_;
  uint64_t open_ = 0;      // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace spacesfs::fuse
