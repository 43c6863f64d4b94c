// system.h — the system description as init reads it.
//
// The text form lives in system/*.system (one file per image); the image
// build (tools/sysdesc) checks it against the programs in the image and packs
// this binary form as the boot module "system". init validates it again
// (magic, version, counts, names) before it starts anything: a malformed
// module stops init with a message, never with a fault.
//
// Layout: little-endian, fixed-size, no pointers — the same struct on the
// host (writer) and the target (reader).
#pragma once

#include <stdint.h>

namespace keel::sysdesc {

constexpr uint64_t kMagic = 0x31535953'4c45454bull;  // "KEELSYS1"
constexpr uint64_t kVersion = 4;
constexpr unsigned kMaxTasks = 16;
constexpr unsigned kNameSize = 16;        // NUL-terminated, so at most 15 characters
constexpr unsigned kMaxDevices = 4;       // `device` lines per task
constexpr unsigned kDeviceSpecSize = 48;  // a device spec (keel/devices.h), NUL-terminated

// What a task is to init.
enum class Role : uint32_t {
  kClient = 0,        // an ordinary program: memory from the memory server, output through the console
  kMemoryServer = 1,  // exactly one: gets the untyped RAM init does not keep
  // Exactly one: a driver that also serves the console to every task and
  // takes the kernel's log over (its device is the console's hardware).
  kConsoleServer = 2,
  kDriver = 3,  // its devices (`device` lines): registers, interrupts; an endpoint it serves
};

// When init starts it.
enum class Start : uint32_t {
  kBoot = 0,      // before the ready line
  kOnDemand = 1,  // when asked at the console (`run NAME`)
  kTest = 2,      // with the console's `test` (the self-tests)
  kWithNet = 3,   // after the ready line when the machine has a network (boot argument keel.net,
                  // which `./keel run --net` adds); else on demand
};

// Initial capabilities (bit set), beyond its own CNode, thread and address space.
enum CapBits : uint32_t {
  kCapMemory = 1u << 0,   // a badged endpoint to the memory server (and it is the task's pager)
  kCapConsole = 1u << 1,  // a badged endpoint to the console server
};

// Protocols a driver serves (`serves = ...`), for init's console commands.
enum ServiceBits : uint32_t {
  kServeClock = 1u << 0,  // keel/proto/clock.h (`date`)
  kServeDisk = 1u << 1,   // keel/proto/block.h's statistics (`disk`)
  kServePci = 1u << 2,    // keel/proto/pci.h: the PCI bus task (init resolves `device = pci:...` through it)
};

struct Task {
  char name[kNameSize];
  char program[kNameSize];  // the boot module it is loaded from
  Role role;
  Start start;
  uint32_t priority;        // 1..254 (init runs at 255)
  uint32_t caps;            // CapBits
  uint64_t quota_bytes;     // memory-server pages it may hold at once (clients)
  uint64_t untyped_bytes;   // untyped memory of its own (threads, endpoints it makes itself)
  uint64_t buffer_bytes;    // console server: its transmit buffer
  char channel[kNameSize];  // another task: init gives both one endpoint (task_slot::kChannel); "" = none
  uint32_t expect_stopped;  // 1: a test that is meant to be stopped by a fault (`outcome = stopped`)
  uint32_t cpu;             // the CPU its thread runs on (CPU 0 if that one is not online)
  uint32_t device_count;    // drivers: how many of `devices` are used
  uint32_t serves;          // ServiceBits: protocols a driver serves on its endpoint (init asks it)
  uint64_t dma_bytes;       // drivers: physically contiguous RAM for DMA (0: none)
  uint64_t shared_bytes;    // memory both ends of its channel map (0: none; either end may say)
  // Drivers: how init quiets its devices when it stops the task, before any
  // memory they could still write by DMA is reused: a 32-bit 0 written at
  // this offset of each device's first register range, read back until 0
  // (virtio-mmio: Status, 0x70). ~0: none.
  uint64_t reset_offset;
  // A connection to a driver (`disk = TASK [OFFSET SIZE]` for a block
  // driver's clients, `connect = TASK` for any other; "" = none): the
  // driver task, and for a disk the client's partition of it, in bytes
  // (size 0: from offset to the end of the disk). A driver may be another
  // driver's client (the network stack over the network driver).
  char disk[kNameSize];
  uint64_t disk_offset, disk_size;
  uint32_t connect;  // 1: `connect = TASK` (no partition: clients of one driver never overlap)
  // Device specs (keel/devices.h: COMPATIBLE[#N], /PATH or stdout); init
  // resolves them in the machine's DTB at boot.
  char devices[kMaxDevices][kDeviceSpecSize];
  // Drivers: 1 = init gives it the user timer (`timer = yes`; one task in
  // the system): task_slot::kTimer, signalling its device notification.
  uint32_t timer;
  uint32_t restart;  // Restart: what init does when it stops by itself
  // Drivers (`watchdog = 2s`, 0 = none): init pings it (kWatchdogBit in its
  // notification) every watchdog_ms / 2; one that has not answered for
  // watchdog_ms (a loop, a deadlock) is stopped and restarted like a
  // faulted one. Its answers go through sys::driver_wait (keel/devices.h).
  uint32_t watchdog_ms;
};

// `restart = ...`: when the task faults or exits, init stops it for real
// (devices reset) and starts it afresh — backing off, and leaving it
// stopped after kRestartTries quick failures. Drivers default to on-fault.
enum Restart : uint32_t { kRestartNever = 0, kRestartOnFault = 1, kRestartAlways = 2 };

struct System {
  uint64_t magic;
  uint64_t version;
  uint64_t task_count;
  Task tasks[kMaxTasks];
};

// Name of a Role/Start as written in the text form.
constexpr const char* role_name(Role r) {
  switch (r) {
    case Role::kClient: return "client";
    case Role::kMemoryServer: return "memory-server";
    case Role::kConsoleServer: return "console-server";
    case Role::kDriver: return "driver";
  }
  return "?";
}

}  // namespace keel::sysdesc
