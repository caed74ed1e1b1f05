// mailsift::sqlite — a VFS shim that coalesces the writes SQLite makes to a WAL file.
//
// Why: SQLite writes every WAL frame as two pwrite() calls (the 24-byte frame header, then the
// page), so a commit of N dirty pages is 2N system calls. The decision log's and the outbound
// store's writer threads commit hundreds of scattered pages a second, and on virtualised hosts a
// system call costs more than the copy it does (bench/outbound, docs/outbound.md). The shim keeps
// the contiguous frames of one commit in a buffer and writes them with one pwrite() when the
// commit frame is complete.
//
// What it guarantees: the bytes reach the file, in order, before SQLite can publish the commit
// (the buffer is written when the commit frame's page arrives, i.e. inside the xWrite call that
// completes the transaction, before SQLite updates the WAL index), and before any xRead,
// xSync, xTruncate, xFileSize or xClose of that file. Durability and what other connections
// (the CLI, other processes) see are therefore exactly SQLite's. Database, journal and other
// files pass straight through to the default VFS.
//
// Failure semantics: a failed deferred write is returned by the call that triggered it (the
// commit's xWrite: SQLite rolls the transaction back as for any write error). Registration
// failures leave callers on the default VFS (wal_buffer_vfs_name() returns nullptr).
#pragma once

namespace mailsift::sqlite {

// Registers the shim once (thread-safe) and returns its name for sqlite3_open_v2's zVfs, or
// nullptr when it could not be registered (then open with the default VFS).
const char* wal_buffer_vfs_name();

}  // namespace mailsift::sqlite
