// Instantiates the OutboundStore conformance suite for the memory and SQLite backends.
#include "outbound/testing/conformance.h"

using mailsift::outbound::OutboundStore;
using mailsift::outbound::testing::BackendFactory;

namespace {
mailsift::Result<std::unique_ptr<OutboundStore>> open_sqlite(const std::string& dir) {
  return mailsift::outbound::open_sqlite_store(dir + "/outbound.db");
}
}  // namespace

MAILSIFT_OUTBOUND_CONFORMANCE(Memory, (BackendFactory{"memory",
                                                      [](const std::string&) {
                                                        return mailsift::Result<
                                                            std::unique_ptr<OutboundStore>>(
                                                            mailsift::outbound::make_memory_store());
                                                      },
                                                      nullptr}));
MAILSIFT_OUTBOUND_CONFORMANCE(Sqlite, (BackendFactory{"sqlite", open_sqlite, open_sqlite}));
