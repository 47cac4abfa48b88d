// FileSink: an outbound file destination (`kind: file`): each item's payload becomes
// `<directory>/<item.file_name>`, appearing whole or not at all.
//
//   auto sink = file::makeFileSink(destination);  // kConfig: no directory, cannot create it
//   auto r = sink.value()->deliver(item);
//
// Writing: `<name>.tmp` in the same directory, fsync, rename to `<name>` (never replacing
// a file that is there), fsync the directory. Readers of the directory must skip `*.tmp`.
// The directory is created when missing.
//
// Idempotent: when `<name>` exists with the same bytes the item is delivered (a crash after
// the rename, before the outbox heard of it); with other bytes it is dead-lettered ("would
// overwrite"), never replaced. Disk errors (ENOSPC, EACCES, EIO, ...) are kRetry with the
// errno text; a file name that can never be written (empty, '/', "..") is kDeadLetter.
//
// one_file_per_message false: deliverBatch() writes one file per batch, named after its
// first item: payloads concatenated (X12 interchanges back to back; for an NDJSON content
// type each payload ends with one newline). When that file exists and holds the first k
// items of the batch (an earlier, smaller batch), those k are delivered and the rest goes
// to a file named after item k.
//
// Threading: one deliverer thread calls it (Sink's contract). Blocking: disk I/O and fsync.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/delivery/sink.h"

namespace courier::file {

// For tests (a disk that refuses): called before each step ("mkdir", "open", "write",
// "fsync", "rename", "fsync-dir"); a non-zero errno makes that step fail with it.
using FileFault = std::function<int(std::string_view step)>;

[[nodiscard]] Result<std::unique_ptr<delivery::Sink>> makeFileSink(const config::DestinationConfig& destination,
                                                                   FileFault fault = {});

}  // namespace courier::file
