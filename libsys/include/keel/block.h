// block.h — a client's disk (`disk = DRIVER [OFFSET SIZE]` in its
// description): synchronous reads, writes and flushes of its partition
// through the connection the block driver serves (keel/proto/block.h).
// Buffers live in the connection's data area (data(), kDataBytes bytes):
// the device moves them by DMA in place, so there is no copy.
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

  // The raw rings, for asynchronous use (and for tests that misbehave).
  block::Shared* shared() const { return shared_; }

 private:
  int32_t run(uint32_t op, uint64_t sector, uint32_t count, uint32_t offset, uint64_t* value) {
    const uint32_t id = ++next_id_;
    bool signal = false;
    while (!shared_->requests.push(block::Request{op, id, sector, count, offset}, &signal)) {
      if (shared_->requests.producer_prepare_wait()) wait();
    }
    if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
    for (;;) {
      block::Completion c{};
      if (shared_->done.pop(&c, &signal)) {
        if (signal) (void)Notification(abi::task_slot::kDiskWake).signal();
        if (c.id != id) continue;  // (an older request's: this API has one in flight)
        if (value != nullptr) *value = c.value;
        return c.status;
      }
      if (shared_->done.prepare_wait()) wait();
    }
  }
  static void wait() {
    uint64_t word = 0;
    (void)Notification(abi::task_slot::kDiskWait).wait(&word);
  }

  block::Shared* shared_;
  uint8_t* data_;
  uint32_t next_id_ = 0;
};

}  // namespace keel::sys
