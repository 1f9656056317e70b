// kafka-stream-push's exit codes (documented in --help and the man page; the SPANK plugin relies on them).
#pragma once

namespace ks::push::exit_code {
inline constexpr int delivered = 0;      // every message confirmed (or, with --drain-spool, every entry drained)
inline constexpr int internal = 1;       // a bug or an unexpected exception
inline constexpr int usage = 2;          // bad arguments or configuration; nothing was read or sent
inline constexpr int spooled = 3;        // not (fully) delivered, but saved in the spool: retry with --drain-spool
inline constexpr int lost = 4;           // not delivered and NOT spooled (or unsafe to continue): data was not saved
}  // namespace ks::push::exit_code
