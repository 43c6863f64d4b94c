// block.h — a client's disk (`disk = DRIVER [OFFSET SIZE]` in its
// description): reads, writes and flushes of its partition through the
// connection the block driver serves (keel/proto/block.h), synchronous
// (read/write/flush: one request, waited for) or asynchronous (submit, then
// poll or wait for completions: up to kMaxInFlight at once).
// Buffers live in the connection's data area (data(), kDataBytes bytes):
// the device moves them by DMA in place, so there is no copy; a buffer is
// the driver's from submit until its completion comes back.
//
// One thread uses a BlockDevice. The synchronous calls expect nothing else
// in flight: they discard completions that are not theirs.
#pragma once

#include <stdint.h>

#include "keel/proto/block.h"
#include "keel/sys.h"
#include "keel/task.h"

namespace keel::sys {

class BlockDevice {
 public:
  // The task's disk, or an invalid one (ok() false) if it has none.
  BlockDevice()
      : shared_(reinterpret_cast<block::Shared*>(abi::start_info()->disk_va)),
        data_(reinterpret_cast<uint8_t*>(abi::start_info()->disk_va + block::kDataOffset)) {}
  bool ok() const { return abi::start_info()->disk_va != 0; }
  uint8_t* data() const { return data_; }

  // Each waits for its completion; the result is a block::Status.
  int32_t info(uint64_t* sectors, bool* read_only = nullptr) {
    uint64_t v = 0;
    const int32_t st = run(block::kInfo, 0, 0, 0, &v);
    *sectors = v & ~block::kInfoReadOnly;
    if (read_only != nullptr) *read_only = (v & block::kInfoReadOnly) != 0;
    return st;
  }
  int32_t read(uint64_t sector, uint32_t count, uint32_t offset) {
    return run(block::kRead, sector, count, offset, nullptr);
  }
  int32_t write(uint64_t sector, uint32_t count, uint32_t offset) {
    return run(block::kWrite, sector, count, offset, nullptr);
  }
  int32_t flush() { return run(block::kFlush, 0, 0, 0, nullptr); }

  // ---- asynchronous ----
  // At most this many requests in flight (the completion ring's size: the
  // driver never has to drop a completion for want of room).
  static constexpr uint32_t kMaxInFlight = block::CompletionRing::kCapacity;
  // Queues one request and returns its id (never 0); 0 when kMaxInFlight are
  // in flight — take completions first. Waits only while the request ring
  // is full (the driver has not taken earlier requests yet).
  uint32_t submit(uint32_t op, uint64_t sector, uint32_t count, uint32_t offset) {
    if (in_flight_ >= kMaxInFlight) return 0;
    if (++next_id_ == 0) ++next_id_;
    uint32_t k = 0;
    while (pending_[k].id != 0) ++k;  // (a free entry: fewer than kMaxInFlight are in flight)
    pending_[k] = block::Request{op, next_id_, sector, count, offset, 0, 0};
    ++in_flight_;
    push(pending_[k]);
    return next_id_;
  }
  // A completion, if one has come (false: none yet). If the driver was
  // restarted meanwhile (a new generation), the requests it had not
  // answered are submitted again first (proto/block.h "Generations"): the
  // caller sees each completion exactly once, whatever restarts happened.
  bool poll(block::Completion* c) {
    for (;;) {
      const uint32_t gen = __atomic_load_n(&shared_->generation, __ATOMIC_ACQUIRE);
      if (gen != gen_) {
        // Every completion there is first: the dead instance's are all in
        // the ring now; then again, with the new generation, what is left.
        gen_ = gen;
        while (take(&held_[held_count_])) {
          if (held_count_ + 1 < kMaxInFlight) ++held_count_;
        }
        ++resubmits_;
        for (block::Request& r : pending_) {
          if (r.id != 0) push(r);
        }
      }
      if (held_count_ > 0) {
        *c = held_[--held_count_];
        return true;
      }
      if (take(c)) return true;
      if (__atomic_load_n(&shared_->generation, __ATOMIC_ACQUIRE) == gen_) return false;
    }
  }
  // The next completion, waited for (any order: match it by id).
  block::Completion wait_completion() {
    block::Completion c{};
    while (!poll(&c)) {
      if (shared_->done.prepare_wait() && __atomic_load_n(&shared_->generation, __ATOMIC_ACQUIRE) == gen_) wait();
    }
    return c;
  }
  uint32_t in_flight() const { return in_flight_; }
  // How many times requests were submitted again for a restarted driver,
  // and completions dropped as not (or no longer) in flight.
  uint64_t resubmits() const { return resubmits_; }
  // The driver instance's generation this client last saw (it changes when
  // the driver was restarted: proto/block.h).
  uint32_t generation() const { return gen_; }
  uint64_t stray_completions() const { return stray_; }

  // The raw rings (for tests that misbehave).
  block::Shared* shared() const { return shared_; }

 private:
  int32_t run(uint32_t op, uint64_t sector, uint32_t count, uint32_t offset, uint64_t* value) {
    uint32_t id = submit(op, sector, count, offset);
    while (id == 0) {  // (a caller's asynchronous requests fill the window: theirs are dropped below)
      (void)wait_completion();
      id = submit(op, sector, count, offset);
    }
    for (;;) {
      const block::Completion c = wait_completion();
      if (c.id != id) continue;
      if (value != nullptr) *value = c.value;
      return c.status;
    }
  }
  static void wait() {
    uint64_t word = 0;
    (void)Notification(abi::task_slot::kDiskWait).wait(&word);
  }
  // Pushes r stamped with the generation seen (waits while the ring is full).
  void push(block::Request r) {
    r.gen = gen_;
    bool signal = false;
    while (!shared_->requests.push(r, &signal)) {
      if (shared_->requests.producer_prepare_wait()) wait();
    }
    if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
  }
  // The next completion of a request in flight (others: dropped, counted —
  // a second completion of one resubmitted, or nonsense).
  bool take(block::Completion* c) {
    bool signal = false;
    while (shared_->done.pop(c, &signal)) {
      if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
      for (block::Request& r : pending_) {
        if (r.id == 0 || r.id != c->id) continue;
        r.id = 0;
        --in_flight_;
        return true;
      }
      ++stray_;
    }
    return false;
  }

  block::Shared* shared_;
  uint8_t* data_;
  uint32_t next_id_ = 0;
  uint32_t in_flight_ = 0;
  // The driver's generation as last seen (0 without a disk).
  uint32_t gen_ = shared_ != nullptr ? __atomic_load_n(&shared_->generation, __ATOMIC_ACQUIRE) : 0;
  block::Request pending_[kMaxInFlight] = {};  // in flight (id 0: free), to submit again after a restart
  block::Completion held_[kMaxInFlight] = {};  // taken while catching up with a restart, not yet returned
  uint32_t held_count_ = 0;
  uint64_t resubmits_ = 0, stray_ = 0;
};

}  // namespace keel::sys
