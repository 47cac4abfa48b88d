// Scheduling of Courier's own threads.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace courier {

// Work that may wait (processing stored messages, indexing) gives way to work a sender
// waits for (reading frames, committing, answering) when the CPU is short.
constexpr int kBackgroundNice = 5;

// Lowers the calling thread's priority to `nice` (Linux applies nice per thread).
inline void lowerThisThreadPriority(int nice) {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
}

}  // namespace courier
